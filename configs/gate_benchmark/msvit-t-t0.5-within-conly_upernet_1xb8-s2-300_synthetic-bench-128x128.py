# Gate benchmark lever: within-image shaping plus the one-sided estimator: only regions
# that came out coarse pass the task gradient to the gate (estimator='coarse_only').
_base_ = ['./msvit-t-t0.5-within_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
model = dict(backbone=dict(gate=dict(estimator='coarse_only')))
