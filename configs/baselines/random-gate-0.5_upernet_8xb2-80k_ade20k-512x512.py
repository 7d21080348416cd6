# Ablation: MSViT-S + UPerNet with a random gate at the learned model's coarse ratio (0.5).
_base_ = ['../msvit/msvit-s_upernet_8xb2-80k_ade20k-512x512.py']
model = dict(backbone=dict(gate=dict(type='RandomGate', coarse_ratio=0.5)), gate_loss=None)
find_unused_parameters = True  # the gate is not run
