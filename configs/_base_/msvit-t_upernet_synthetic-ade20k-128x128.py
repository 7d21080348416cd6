# Base of the small MSViT + UPerNet on the embedded synthetic ADE20K (128x128), without a
# gate: the small MSViT (configs/msvit/msvit-t_...) and the small baselines each set theirs
# with one model.backbone.gate=dict(type=...). The MSViT-S UPerNet recipe scaled down (6
# layers, 96 wide, from scratch, 800 iterations), with CPU-friendly settings (BN instead of
# SyncBN, no dataloader workers).
# The data: python tools/dataset_converters/make_synthetic_ade20k.py --root data/synthetic_ade
_base_ = ['../msvit/msvit-s_upernet_8xb2-80k_ade20k-512x512.py']

crop_size = (128, 128)
norm_cfg = dict(type='BN', requires_grad=True)
embed_dims = 96
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(
        img_size=crop_size,
        embed_dims=embed_dims,
        num_layers=6,
        num_heads=3,
        out_indices=(1, 3, 4, 5),
        drop_path_rate=0.0),
    # 128 / 32 regions; weight 5 from scratch (weights 1 and 5 compared: docs/gate_levers.md)
    gate_loss=dict(grid_size=(4, 4), loss_weight=5.0),
    decode_head=dict(in_channels=[embed_dims] * 4, channels=64, pool_scales=(1, 2, 4),
                     norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=embed_dims, channels=32, norm_cfg=norm_cfg))

# data: the generated scenes, read by mmseg's ADE20KDataset. The loaders keep mmseg's names
# (its inference API and MMSegInferencer look them up by name); our tools swap in the checked
# ones (msvit_mm.engine.cli.use_checked_loading)
data_root = 'data/synthetic_ade/ADEChallengeData2016'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

# schedule: short, from scratch
optim_wrapper = dict(optimizer=dict(lr=1e-3))
max_iters = 800
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=100, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=2))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
