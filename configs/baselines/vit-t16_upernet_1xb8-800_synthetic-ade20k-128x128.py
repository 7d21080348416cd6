# Small baseline ViT/16 (all fine) on the embedded dataset.
_base_ = ['../_base_/msvit-t_upernet_synthetic-ade20k-128x128.py']
model = dict(backbone=dict(gate=dict(type='FixedGate', coarse=False)), gate_loss=None)
find_unused_parameters = True  # the gate is not run
