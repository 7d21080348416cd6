# Texture benchmark, stage 2: the entropy rule at 0.5 coarse regions (the lowest-entropy half
# of each image's regions coarse), 300 iterations from the stage-1 ViT/16; the gate
# benchmark's entropy-coarse0.5 run on these scenes.
_base_ = ['./random-0.5_upernet_1xb8-s2-300_texture-128x128.py']
model = dict(backbone=dict(gate=dict(
    _delete_=True, type='PixelStatGate', statistic='entropy', coarse_ratio=0.5)))
