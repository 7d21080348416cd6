# Texture benchmark, stage 2: a random gate at 0.5 coarse regions, 300 iterations from the
# stage-1 ViT/16 (the model on which the data's headroom is measured).
_base_ = ['../../../configs/gate_benchmark/random-0.5_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
load_from = 'work_dirs/texture/vit-t16_upernet_1xb8-800_texture-128x128/iter_800.pth'
data_root = 'data/texture_ade/ADEChallengeData2016'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
