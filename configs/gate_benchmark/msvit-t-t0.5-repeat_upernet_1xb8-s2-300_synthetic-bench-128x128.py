# Gate benchmark: msvit-t-t0.5 again, unchanged. No seed is set, so mmengine draws a new one:
# the difference between the two runs is the run-to-run noise the levers are read against.
_base_ = ['./msvit-t-t0.5_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
