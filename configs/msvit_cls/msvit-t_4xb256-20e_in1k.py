# MSViT-Ti on ImageNet-1k: MSViT-S's recipe on the pretrained DeiT-Ti.
_base_ = ['./msvit-s_4xb256-20e_in1k.py']
model = dict(
    backbone=dict(arch='deit-tiny'),
    head=dict(in_channels=192),
    init_cfg=dict(checkpoint='pretrain/deit_tiny_patch16_224-a1311bcf.pth'))
