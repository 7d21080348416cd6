# Baseline: the training-free rule, each image's half of the regions with the lowest pixel
# intensity entropy coarse (no learned gate), same budget.
_base_ = ['./msvit-s_4xb256-20e_in1k.py']
model = dict(backbone=dict(gate=dict(type='PixelStatGate', statistic='entropy',
                                     coarse_ratio=0.5)),
             gate_loss=None)
find_unused_parameters = True  # the gate has no parameters
