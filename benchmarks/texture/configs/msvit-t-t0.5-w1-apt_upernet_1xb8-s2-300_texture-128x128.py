# Texture benchmark, stage 2: the MSViT row (msvit-t-t0.5-w1) with APT's coarse-token
# aggregation: the pooled-region embedding plus a zero-initialized projection of its four
# sub-patch embeddings. Measured: docs/gate_levers_texture.md.
_base_ = ['./msvit-t-t0.5-w1_upernet_1xb8-s2-300_texture-128x128.py']
model = dict(backbone=dict(coarse_aggregation='subpatch_linear'))
# the stage-1 ViT/16 has neither the gate nor the aggregation: both start fresh
load_from_missing_ok = ['backbone.tokenizer.gate.', 'backbone.tokenizer.aggregation.',
                        'gate_losses.']
