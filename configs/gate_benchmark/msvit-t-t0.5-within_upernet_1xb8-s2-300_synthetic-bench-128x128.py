# Gate benchmark lever: gBaS plus shaping within each image (WithinImageShapingLoss), which
# asks every image to keep about half of its regions coarse, so the gate must rank regions
# inside an image instead of making whole images coarse or fine.
_base_ = ['./msvit-t-t0.5_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
model = dict(gate_loss=[
    {{_base_.gbas}},
    dict(type='WithinImageShapingLoss', target_coarse_ratio=0.5, loss_weight=5.0)])
