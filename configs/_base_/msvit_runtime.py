# Pieces shared by the MSViT configs, referenced as {{_base_.msvit_*}}.
custom_imports = dict(imports=['msvit_mm'], allow_failed_imports=False)
msvit_backbone = dict(
    type='MSViT',
    coarse_patch_size=32,
    gate_mode='learned',
    gate_threshold=0.5,
    gumbel_temperature=1.0,
    # masked (both scales) while the gate learns, packed otherwise and at inference; a
    # learning gate trained packed learned no ranking of regions (docs/training_speed.md)
    execution='auto')
msvit_gate_loss = dict(
    type='GeneralizedBatchShapingLoss',
    target_coarse_ratio=0.5,
    grid_size=(16, 16),  # 512 / 32
    loss_weight=1.0)
# the gate starts from scratch on a pretrained ViT: 10x learning rate, no weight decay
msvit_custom_keys = {
    'tokenizer.gate': dict(lr_mult=10.0, decay_mult=0.0),
    'gate_losses': dict(lr_mult=10.0, decay_mult=0.0),
}
# exact resume: generator states saved with each checkpoint and restored after the data skip
# (also set train_cfg.type='ReproducibleIterBasedTrainLoop' in the config; mmseg's schedule
# bases define train_cfg, so it cannot live here)
custom_hooks = [dict(type='RNGStateHook')]
