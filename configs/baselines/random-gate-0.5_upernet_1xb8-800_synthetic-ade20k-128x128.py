# Small ablation: random gate at 50% coarse regions on the embedded dataset.
_base_ = ['../msvit/msvit-t_upernet_1xb8-800_synthetic-ade20k-128x128.py']
model = dict(backbone=dict(gate_mode='random', random_coarse_ratio=0.5), gate_loss=None)
find_unused_parameters = True  # the gate is not run
