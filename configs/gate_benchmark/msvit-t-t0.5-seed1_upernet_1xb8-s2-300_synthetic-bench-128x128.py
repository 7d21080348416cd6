# Gate benchmark: msvit-t-t0.5 with another seed (1 instead of 0: other Gumbel noise, data
# order and gate init), to read the levers against the run-to-run noise.
_base_ = ['./msvit-t-t0.5_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
randomness = dict(seed=1)
