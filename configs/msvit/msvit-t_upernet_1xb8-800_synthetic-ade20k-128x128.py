# A small MSViT + UPerNet on the embedded synthetic ADE20K (128x128): the quick start and the
# tests. Everything but the gate is in the base; the gate is MSViT's MLP, 64 wide.
_base_ = ['../_base_/msvit-t_upernet_synthetic-ade20k-128x128.py']
model = dict(backbone=dict(gate=dict(type='MLPGate', hidden_dims=(64, 64, 64))))
