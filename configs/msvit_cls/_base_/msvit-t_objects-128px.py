# Base of the classification quick start on the embedded object set (128x128, 10 classes):
# a small MSViT classifier (4 layers, 128 wide, from scratch) without a gate and gate loss;
# the stage-1 ViT/16 and the stage-2 MSViT each set theirs with one whole dict.
# The data: python tools/dataset_converters/make_object_cls.py --root data/objects_cls
# (mmpretrain's CustomDataset layout); CPU-friendly settings (no dataloader workers).
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['msvit_mm.classification'], allow_failed_imports=False)

img_size = 128
num_classes = 10
embed_dims = 128
model = dict(
    type='MSViTImageClassifier',
    backbone=dict(
        type='MSViTCls',
        img_size=img_size,
        patch_size=16,
        coarse_patch_size=32,
        embed_dims=embed_dims,
        num_layers=4,
        num_heads=4,
        drop_path_rate=0.0,
        out_type='cls_token',
        execution='auto'),
    neck=None,
    head=dict(
        type='VisionTransformerClsHead',
        num_classes=num_classes,
        in_channels=embed_dims,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=num_classes,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True))
data_root = 'data/objects_cls'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train',
                 classes=data_root + '/classes.txt', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=50, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='val',
                 classes=data_root + '/classes.txt', pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1,))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# schedule: short, from scratch, by iterations
max_iters = 300
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=40),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=40, end=max_iters),
]
train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()
log_processor = dict(by_epoch=False)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
