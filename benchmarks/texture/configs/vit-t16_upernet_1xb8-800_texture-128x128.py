# Texture benchmark, stage 1: the gate benchmark's small ViT/16 (every region fine), trained
# from scratch on the real-texture scenes (benchmarks/texture/README.md).
# The data: python benchmarks/texture/make_texture_set.py --root data/texture_ade
_base_ = ['../../gate/configs/stage1.py']
model = dict(backbone=dict(gate=dict(type='FixedGate', coarse=False)))
data_root = 'data/texture_ade/ADEChallengeData2016'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
