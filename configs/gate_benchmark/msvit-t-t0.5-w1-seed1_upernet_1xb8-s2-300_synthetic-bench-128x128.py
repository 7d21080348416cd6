# Gate benchmark: msvit-t-t0.5-w1 with seed 1 instead of 0.
_base_ = ['./msvit-t-t0.5-w1_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
randomness = dict(seed=1)
