# Baseline ViT-S/32 + UPerNet: every region one coarse token (the shared 16x16 embedding on
# the 2x2-pooled image, 2x2-averaged position embeddings), unpacked to the 1/16 grid.
_base_ = ['../msvit/msvit-s_upernet_8xb2-80k_ade20k-512x512.py']
model = dict(backbone=dict(gate=dict(type='FixedGate', coarse=True)), gate_loss=None)
find_unused_parameters = True  # the gate is not run
