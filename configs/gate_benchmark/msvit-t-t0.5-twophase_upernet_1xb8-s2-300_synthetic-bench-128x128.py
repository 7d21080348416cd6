# Gate benchmark lever: two phases. The gate learns (masked execution) for the first 100 of
# the 300 iterations, then FreezeGateHook freezes it and the rest trains packed.
_base_ = ['./msvit-t-t0.5_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
custom_hooks = [dict(type='RNGStateHook'), dict(type='FreezeGateHook', gate_iters=100)]
