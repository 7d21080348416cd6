# Gate benchmark lever: the weaker prior (gBaS weight 1) with packed training.
_base_ = ['./msvit-t-t0.5-w1_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
model = dict(backbone=dict(execution='packed'))
