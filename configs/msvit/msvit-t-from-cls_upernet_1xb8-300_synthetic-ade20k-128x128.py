# The gate carried into segmentation (MSViT's recipe: a gate trained on classification, then
# used for dense prediction): the small MSViT + UPerNet on the embedded dataset, started from
# the classification quick start's stage-2 classifier (tools/demo_cls.py). Its backbone and
# learned gate load through model.pretrained (the classifier's backbone.* keys, which MSViT
# shares; its head and gate-loss priors are dropped), then 300 iterations of segmentation
# towards 50% coarse regions, on the schedule of msvit-t-ft_upernet_1xb8-300_... (stage 2 of
# the quick start). The backbone is the classifier's: 4 layers, 128 wide, 4 heads, patch
# bias, final norm, the gate's default MLP.
_base_ = ['../_base_/msvit-t_upernet_synthetic-ade20k-128x128.py']
embed_dims = 128
model = dict(
    pretrained='work_dirs/demo_cls/iter_150.pth',  # python tools/demo_cls.py writes it
    backbone=dict(
        embed_dims=embed_dims, num_layers=4, num_heads=4, out_indices=(0, 1, 2, 3),
        patch_bias=True, final_norm=True,
        gate=dict(type='MLPGate', hidden_dims=(128, 128, 128))),
    decode_head=dict(in_channels=[embed_dims] * 4),
    auxiliary_head=dict(in_channels=embed_dims, in_index=2),
    gate_loss=dict(loss_weight=1.0))
max_iters = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=40),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=40, end=max_iters, by_epoch=False),
]
optim_wrapper = dict(optimizer=dict(lr=5e-4))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
