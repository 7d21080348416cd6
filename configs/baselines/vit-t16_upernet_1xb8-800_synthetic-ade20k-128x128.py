# Small baseline ViT/16 (all fine) on the embedded dataset.
_base_ = ['../msvit/msvit-t_upernet_1xb8-800_synthetic-ade20k-128x128.py']
model = dict(backbone=dict(gate=dict(_delete_=True, type='FixedGate', coarse=False)),
             gate_loss=None)
find_unused_parameters = True  # the gate is not run
