# Gate benchmark, stage 2: every region coarse (ViT/32 on the pooled image), from ViT/16.
_base_ = ['./_base_/stage2.py']
model = dict(backbone=dict(gate=dict(coarse=True)))
