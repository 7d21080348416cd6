# Gate benchmark, stage 2: the training-free rule, the 0.5 lowest-entropy regions of each
# image coarse (APT's criterion, as a fixed budget per image).
_base_ = ['./_base_/stage2.py']
model = dict(backbone=dict(gate=dict(_delete_=True, type='PixelStatGate', statistic='entropy',
                                     coarse_ratio=0.5)))
