# Gate benchmark lever: the gate (and gBaS's priors) learn at 100x the base learning rate
# instead of 10x, so the gate can follow the task signal before the backbone adapts to it.
_base_ = ['./msvit-t-t0.5_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'tokenizer.gate': dict(lr_mult=100.0, decay_mult=0.0),
    'gate_losses': dict(lr_mult=100.0, decay_mult=0.0)}))
