# MSViT-S + UPerNet with the gate trained towards 0.25 of the regions coarse.
_base_ = ['./msvit-s_upernet_8xb2-80k_ade20k-512x512.py']
model = dict(gate_loss=dict(target_coarse_ratio=0.25))
