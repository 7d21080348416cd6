# Gate benchmark, stage 2 base (MSViT's recipe: the gate is added to a trained ViT and trained
# briefly): 300 iterations from the stage-1 ViT/16 weights, the same budget for every run.
# No gate here: each run of benchmarks/gate/configs/runs.py sets its own.
_base_ = ['./stage1.py']
# the runner sets load_from to the stage-1 checkpoint of its work root
load_from = 'work_dirs/gate_bench/stage1-vit-t16/iter_800.pth'
max_iters = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=40),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=40, end=max_iters, by_epoch=False),
]
optim_wrapper = dict(optimizer=dict(lr=5e-4))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
# the stage-1 ViT/16 has no learned gate: its weights may be missing (they start fresh)
load_from_missing_ok = ['backbone.tokenizer.gate.', 'gate_losses.']
