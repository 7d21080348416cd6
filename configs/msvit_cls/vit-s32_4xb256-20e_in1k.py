# Baseline ViT-S/32: every region one coarse token (DeiT-S's 16x16 embedding on the 2x2-pooled
# image, 2x2-averaged position embeddings), fine-tuned from DeiT-S for the same 20 epochs.
_base_ = ['./msvit-s_4xb256-20e_in1k.py']
model = dict(backbone=dict(gate=dict(type='FixedGate', coarse=True)), gate_loss=None)
find_unused_parameters = True  # the gate is not run
