# Baseline: each region coarse with probability 0.5 at random (the chance gate), same budget.
_base_ = ['./msvit-s_4xb256-20e_in1k.py']
model = dict(backbone=dict(gate=dict(type='RandomGate', coarse_ratio=0.5)), gate_loss=None)
find_unused_parameters = True  # the gate has no parameters
