# The classification quick start's stage 2 (MSViT's recipe): the learned gate added to the
# stage-1 ViT/16 (tools/demo_cls.py sets load_from), then 150 iterations of the whole model
# towards 50% coarse regions (gBaS, weight 1; the gate at the model's learning rate: at 10x
# its logits diverged, docs/classification_demo.md).
_base_ = ['./_base_/msvit-t_objects-128px.py']
load_from = None  # the stage-1 checkpoint (tools/demo_cls.py, or --cfg-options load_from=...)
load_from_missing_ok = ['backbone.tokenizer.gate.', 'gate_losses.']  # ViT/16 has no gate
max_iters = 150
model = dict(
    backbone=dict(gate=dict(type='MLPGate')),
    gate_loss=dict(type='GeneralizedBatchShapingLoss', target_coarse_ratio=0.5,
                   grid_size=(4, 4), loss_weight=1.0))  # 128 / 32 regions
optim_wrapper = dict(
    optimizer=dict(lr=5e-4),
    paramwise_cfg=dict(custom_keys={
        'tokenizer.gate': dict(lr_mult=1.0, decay_mult=0.0),
        'gate_losses': dict(lr_mult=1.0, decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=20, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
