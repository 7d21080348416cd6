# Gate benchmark lever: the plain target-rate loss (mean coarse probability against the
# target) instead of gBaS.
_base_ = ['./msvit-t-t0.5_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
model = dict(gate_loss=dict(_delete_=True, type='TargetRateLoss', target_coarse_ratio=0.5,
                            loss_weight=5.0))
