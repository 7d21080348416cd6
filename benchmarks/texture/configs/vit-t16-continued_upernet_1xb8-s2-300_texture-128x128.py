# Texture benchmark, stage 2: the stage-1 ViT/16 trained 300 more iterations, every region fine
# (the all-fine end of the mIoU-vs-GMACs line).
_base_ = ['./random-0.5_upernet_1xb8-s2-300_texture-128x128.py']
model = dict(backbone=dict(gate=dict(_delete_=True, type='FixedGate', coarse=False)))
