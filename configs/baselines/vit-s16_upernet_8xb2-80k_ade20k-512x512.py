# Baseline ViT-S/16 + UPerNet: MSViT-S with every region fine, which equals mmseg's
# VisionTransformer with the same weights (tests/models/test_msvit_equivalence.py).
_base_ = ['../msvit/msvit-s_upernet_8xb2-80k_ade20k-512x512.py']
model = dict(backbone=dict(gate=dict(type='FixedGate', coarse=False)), gate_loss=None)
find_unused_parameters = True  # the gate is not run
