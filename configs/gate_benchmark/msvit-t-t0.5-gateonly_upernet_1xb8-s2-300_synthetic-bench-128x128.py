# Gate benchmark lever: only the gate learns. The stage-1 ViT/16 and its heads stay as they
# are (backbone frozen but for the gate, heads at learning rate 0), so the task loss keeps
# telling which regions lose most when coarse, instead of the model adapting to any choice.
_base_ = ['./msvit-t-t0.5_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
model = dict(backbone=dict(frozen_exclude=['tokenizer.gate']))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'decode_head': dict(lr_mult=0.0, decay_mult=0.0),
    'auxiliary_head': dict(lr_mult=0.0, decay_mult=0.0)}))
