# Gate benchmark lever: the weaker prior (gBaS weight 1), two phases (the gate learns masked
# for 100 of the 300 iterations, then is frozen and the rest trains packed).
_base_ = ['./msvit-t-t0.5-w1_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
custom_hooks = [dict(type='RNGStateHook'), dict(type='FreezeGateHook', gate_iters=100)]
