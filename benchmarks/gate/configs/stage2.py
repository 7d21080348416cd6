# Gate benchmark, stage 2 (MSViT's recipe: the gate is added to a trained ViT and trained
# briefly): 300 iterations from the stage-1 ViT/16 weights, the same budget for every run.
_base_ = ['../vit-t16_upernet_1xb8-800_synthetic-bench-128x128.py']
load_from = 'work_dirs/gate_bench/vit-t16_upernet_1xb8-800_synthetic-bench-128x128/iter_800.pth'
max_iters = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=40),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=40, end=max_iters, by_epoch=False),
]
optim_wrapper = dict(optimizer=dict(lr=5e-4))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
# the learned gate of stage 2 (64 wide, as the small MSViT) and its loss
learned_gate = dict(_delete_=True, type='MLPGate', hidden_dims=(64, 64, 64))
gbas = dict(type='GeneralizedBatchShapingLoss', target_coarse_ratio=0.5, grid_size=(4, 4),
            loss_weight=5.0)
# the stage-1 ViT/16 has no gate: its weights may be missing (they start fresh), nothing else
load_from_missing_ok = ['backbone.tokenizer.gate.', 'gate_losses.']
