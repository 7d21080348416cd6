# Small MSViT on the embedded dataset, gate trained towards 75% coarse regions.
_base_ = ['./msvit-t_upernet_1xb8-800_synthetic-ade20k-128x128.py']
model = dict(gate_loss=dict(target_coarse_ratio=0.75))
