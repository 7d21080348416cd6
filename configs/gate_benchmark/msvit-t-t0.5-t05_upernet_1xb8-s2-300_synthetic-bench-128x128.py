# Gate benchmark lever: Gumbel temperature 0.5 instead of 1 (less noise in the sampled
# decisions, sharper straight-through weights).
_base_ = ['./msvit-t-t0.5_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
model = dict(backbone=dict(gate=dict(temperature=0.5)))
