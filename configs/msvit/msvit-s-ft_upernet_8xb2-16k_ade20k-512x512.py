# MSViT's recipe on ADE20K: the learned gate added to mmseg's trained DeiT-S/16 UPerNet
# (vit_deit-s16_upernet_8xb2-80k_ade20k-512x512, converted by
# tools/model_converters/mmseg2msvit.py), then 16k iterations of the whole model towards 50%
# coarse regions. Commands: docs/ade20k_recipe.md. The from-scratch alternative (ImageNet
# DeiT-S, gate from the start, 80k) is msvit-s_upernet_8xb2-80k_ade20k-512x512.py.
_base_ = ['./msvit-s_upernet_8xb2-80k_ade20k-512x512.py']
# every weight comes from load_from; the ImageNet file of the base is not read
model = dict(pretrained=None)  # execution stays the base's 'auto' (masked_query while the gate learns)
load_from = 'pretrain/msvit-s_from_upernet_deit-s16_80k_ade20k.pth'  # mmseg2msvit.py output
load_from_missing_ok = ['backbone.tokenizer.gate.', 'gate_losses.']  # the ViT had no gate
max_iters = 16000
optim_wrapper = dict(
    optimizer=dict(lr=1e-5),  # the 80k run's peak was 6e-5; its weights are trained already
    paramwise_cfg=dict(custom_keys={  # the gate starts from scratch: 1e-3, no weight decay
        'tokenizer.gate': dict(lr_mult=100.0, decay_mult=0.0),
        'gate_losses': dict(lr_mult=100.0, decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=500, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=4000))
