# Baseline ViT-S/16 (DeiT-S, every region four fine tokens), the same 20-epoch fine-tuning.
_base_ = ['./msvit-s_4xb256-20e_in1k.py']
model = dict(backbone=dict(gate=dict(type='FixedGate', coarse=False)), gate_loss=None)
find_unused_parameters = True  # the gate is not run
