# Gate benchmark lever (beyond the paper): gBaS plus an auxiliary target for the gate from
# the labels (a region whose ground truth is one class should stay coarse, CTS's criterion).
_base_ = ['./msvit-t-t0.5_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
model = dict(gate_loss=[{{_base_.gbas}}, dict(type='GateLabelLoss', loss_weight=1.0)])
