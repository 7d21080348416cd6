# Texture benchmark, stage 2: MSViT, the learned gate added to the stage-1 ViT/16 and trained
# masked towards 0.5 coarse regions (gBaS weight 1), 300 iterations; reported at the threshold
# calibrated to 0.5 on the training images.
_base_ = ['../../../configs/gate_benchmark/msvit-t-t0.5-w1_upernet_1xb8-s2-300_synthetic-bench-128x128.py']
load_from = 'work_dirs/texture/vit-t16_upernet_1xb8-800_texture-128x128/iter_800.pth'
data_root = 'data/texture_ade/ADEChallengeData2016'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
