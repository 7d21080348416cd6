# Gate benchmark, stage 2: a random gate at 0.25 coarse regions (the chance baseline).
_base_ = ['./_base_/stage2.py']
model = dict(backbone=dict(gate=dict(_delete_=True, type='RandomGate', coarse_ratio=0.25)))
