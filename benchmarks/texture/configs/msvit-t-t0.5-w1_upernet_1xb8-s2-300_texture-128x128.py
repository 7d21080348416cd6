# Texture benchmark, stage 2: MSViT, the learned gate added to the stage-1 ViT/16 and trained
# masked towards 0.5 coarse regions (gBaS weight 1), 300 iterations; reported at the threshold
# calibrated to 0.5 on the training images. The gate benchmark's target0.5-gbas-weight1 run.
_base_ = ['../../gate/configs/stage2_learned.py']
model = dict(
    backbone=dict(gate=dict(type='MLPGate', hidden_dims=(64, 64, 64))),
    # the stage bases set gate_loss=None (baselines have none): a dict replaces it with _delete_
    gate_loss=dict(_delete_=True, type='GeneralizedBatchShapingLoss', target_coarse_ratio=0.5,
                   grid_size=(4, 4), loss_weight=1.0))
load_from = 'work_dirs/texture/vit-t16_upernet_1xb8-800_texture-128x128/iter_800.pth'
data_root = 'data/texture_ade/ADEChallengeData2016'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
