# Gate benchmark lever: the learned gate trained packed, with the cheap counterfactual in its
# straight-through gradient: a fine region's coarse alternative is the mean of its fine
# outputs (the gradient is the first-order change of the loss if the region were averaged).
_base_ = ['./msvit-t-t0.5_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
model = dict(backbone=dict(execution='packed', packed_counterfactual='fine_mean'))
