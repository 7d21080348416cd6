# MSViT-S on ImageNet-1k, the paper's recipe: a learned gate added to the pretrained DeiT-S
# (backbone and head), trained briefly (20 epochs) with the gate's learning rate 10x.
_base_ = [
    'mmpretrain::deit/deit-small_4xb256_in1k.py',
    '../_base_/msvit_cls_runtime.py',
]
model = dict(
    type='MSViTImageClassifier',
    backbone={{_base_.msvit_cls_backbone}},  # on the base's arch='deit-small', img_size 224
    gate_loss={{_base_.msvit_cls_gate_loss}},
    # DeiT's release (timm names, head included): dl.fbaipublicfiles.com/deit/
    init_cfg=dict(_delete_=True, type='Pretrained',
                  checkpoint='pretrain/deit_small_patch16_224-cd65a155.pth'))
optim_wrapper = dict(
    optimizer=dict(lr=1e-4),
    paramwise_cfg=dict(custom_keys={{_base_.msvit_cls_custom_keys}}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=1),
]
train_cfg = dict(max_epochs=20)
