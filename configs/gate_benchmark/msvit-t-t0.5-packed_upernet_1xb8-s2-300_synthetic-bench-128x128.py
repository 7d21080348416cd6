# Gate benchmark lever: the learned gate trained with packed execution (only the tokens that
# exist run; the straight-through weight sees the chosen scale's output only) instead of
# masked execution (both scales run; it sees what the other scale would have given).
_base_ = ['./msvit-t-t0.5_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
model = dict(backbone=dict(execution='packed'))
