# Pieces shared by the MSViT configs, referenced as {{_base_.msvit_*}}.
custom_imports = dict(imports=['msvit_mm'], allow_failed_imports=False)
# No gate key, in this and every config that others inherit from: MSViT then builds
# MLPGate() (the learned gate with its defaults), and a child config sets its gate with one
# whole model.backbone.gate=dict(type=...), never _delete_.
msvit_backbone = dict(
    type='MSViT',
    coarse_patch_size=32,
    # masked training's gradients (as 'masked_query') while the gate learns, packed otherwise
    # (docs/cheap_gate_training.md)
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
