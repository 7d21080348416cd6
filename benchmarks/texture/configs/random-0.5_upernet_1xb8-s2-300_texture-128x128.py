# Texture benchmark, stage 2: a random gate at 0.5 coarse regions, 300 iterations from the
# stage-1 ViT/16 (the model on which the data's headroom is measured); the gate benchmark's
# random-coarse0.5 run on these scenes.
_base_ = ['../../gate/configs/stage2.py']
model = dict(backbone=dict(gate=dict(type='RandomGate', coarse_ratio=0.5)))
load_from = 'work_dirs/texture/vit-t16_upernet_1xb8-800_texture-128x128/iter_800.pth'
data_root = 'data/texture_ade/ADEChallengeData2016'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
