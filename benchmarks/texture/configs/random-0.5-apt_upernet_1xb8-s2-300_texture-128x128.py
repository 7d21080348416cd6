# Texture benchmark, stage 2: the random-gate row (random-0.5) with APT's coarse-token
# aggregation, to tell its lift to every gate from its lift to the learned one.
# Measured: docs/gate_levers_texture.md.
_base_ = ['./random-0.5_upernet_1xb8-s2-300_texture-128x128.py']
model = dict(backbone=dict(coarse_aggregation='subpatch_linear'))
load_from_missing_ok = ['backbone.tokenizer.gate.', 'backbone.tokenizer.aggregation.',
                        'gate_losses.']
