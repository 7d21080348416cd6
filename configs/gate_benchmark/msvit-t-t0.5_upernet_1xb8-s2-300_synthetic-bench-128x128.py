# Gate benchmark, stage 2: MSViT, the learned gate added to ViT/16 and trained towards
# 0.5 coarse regions (gBaS); reported at the threshold calibrated to 0.5 on the train set.
_base_ = ['./_base_/stage2.py']
model = dict(backbone=dict(gate={{_base_.learned_gate}}),
             gate_loss=dict(_delete_=True, type='GeneralizedBatchShapingLoss',
                            target_coarse_ratio=0.5,
                            grid_size=(4, 4), loss_weight=5.0))
find_unused_parameters = False
