# The quick start's stage 2 (MSViT's recipe): the learned gate added to the small ViT/16
# trained for stage 1 (configs/baselines/vit-t16_...; tools/demo.py sets load_from), then
# 300 iterations of the whole model towards 50% coarse regions.
_base_ = ['./msvit-t_upernet_1xb8-800_synthetic-ade20k-128x128.py']
load_from = None  # the stage-1 checkpoint (tools/demo.py, or --cfg-options load_from=...)
load_from_missing_ok = ['backbone.tokenizer.gate.', 'gate_losses.']  # ViT/16 has no gate
max_iters = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=40),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=40, end=max_iters, by_epoch=False),
]
optim_wrapper = dict(optimizer=dict(lr=5e-4))
# gBaS at weight 1 (the ADE20K configs'), not the from-scratch 5 (compared: docs/gate_levers.md)
model = dict(gate_loss=dict(loss_weight=1.0))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
