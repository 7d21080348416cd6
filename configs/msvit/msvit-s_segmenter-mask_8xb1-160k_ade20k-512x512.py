# MSViT-S + Segmenter mask head on ADE20K, following mmseg's Segmenter ViT-S recipe.
_base_ = [
    'mmseg::segmenter/segmenter_vit-s_mask_8xb1-160k_ade20k-512x512.py',
    '../_base_/msvit_runtime.py',
]
model = dict(
    type='MSViTEncoderDecoder',
    backbone={{_base_.msvit_backbone}},
    gate_loss={{_base_.msvit_gate_loss}})
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.msvit_custom_keys}}))
train_cfg = dict(type='ReproducibleIterBasedTrainLoop')
