# Gate benchmark lever: gBaS with the one-sided estimator (estimator='coarse_only').
_base_ = ['./msvit-t-t0.5_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
model = dict(backbone=dict(gate=dict(estimator='coarse_only')))
