# Baseline Segmenter ViT-S/16 (mask head): MSViT-S with every region fine (= mmseg's ViT).
_base_ = ['../msvit/msvit-s_segmenter-mask_8xb1-160k_ade20k-512x512.py']
model = dict(backbone=dict(gate=dict(type='FixedGate', coarse=False)), gate_loss=None)
find_unused_parameters = True  # the gate is not run
