# Texture benchmark, stage 2: the MSViT row (msvit-t-t0.5-w1) with a gate that reads, besides
# each region's pixels, its grey-level entropy, std, Laplacian energy and the dissimilarity of
# its four sub-patches under the ViT's patch embedding. Measured: docs/gate_levers_texture.md.
_base_ = ['./msvit-t-t0.5-w1_upernet_1xb8-s2-300_texture-128x128.py']
model = dict(backbone=dict(gate=dict(
    region_features=('entropy', 'std', 'laplacian', 'subpatch_dissimilarity'))))
