# Pieces shared by the MSViT classification configs (mmpretrain's default scope), referenced
# as {{_base_.msvit_cls_*}}.
custom_imports = dict(imports=['msvit_mm.classification'], allow_failed_imports=False)
# No gate key: MSViTCls then builds MLPGate() (the learned gate); a child config sets its
# gate with one whole model.backbone.gate=dict(type=...).
msvit_cls_backbone = dict(
    type='MSViTCls',
    img_size=224,
    patch_size=16,
    coarse_patch_size=32,
    out_type='cls_token',
    # masked (both scales, keys weighted by the decisions) while the gate learns, packed
    # otherwise
    execution='auto')
msvit_cls_gate_loss = dict(
    type='GeneralizedBatchShapingLoss',
    target_coarse_ratio=0.5,
    grid_size=(7, 7),  # 224 / 32
    loss_weight=1.0)
# the gate starts from scratch on a pretrained ViT: 10x learning rate, no weight decay
msvit_cls_custom_keys = {
    '.cls_token': dict(decay_mult=0.0),
    '.pos_embed': dict(decay_mult=0.0),
    'tokenizer.gate': dict(lr_mult=10.0, decay_mult=0.0),
    'gate_losses': dict(lr_mult=10.0, decay_mult=0.0),
}
