# MSViT-S (DeiT-S widths) + UPerNet on ADE20K, following mmseg's DeiT-S UPerNet recipe.
_base_ = [
    'mmseg::vit/vit_deit-s16_upernet_8xb2-80k_ade20k-512x512.py',
    '../_base_/msvit_runtime.py',
]
model = dict(
    type='MSViTEncoderDecoder',
    backbone={{_base_.msvit_backbone}},
    gate_loss={{_base_.msvit_gate_loss}})
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.msvit_custom_keys}}))
train_cfg = dict(type='ReproducibleIterBasedTrainLoop')
