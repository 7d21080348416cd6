# The quick start's stage 2 (make demo) with the statistics gate: the MLP gate reads, besides
# each region's pixels, its grey-level entropy, std, Laplacian energy and the dissimilarity of
# its four sub-patches under the ViT's patch embedding (the lever of the texture benchmark).
#   python tools/demo.py --config benchmarks/gate/configs/demo/msvit-t-ft-statgate_upernet_1xb8-300_synthetic-ade20k-128x128.py \
#       --work-dir work_dirs/demo_statgate
_base_ = ['../../../../configs/msvit/msvit-t-ft_upernet_1xb8-300_synthetic-ade20k-128x128.py']
model = dict(backbone=dict(gate=dict(
    region_features=('entropy', 'std', 'laplacian', 'subpatch_dissimilarity'))))
