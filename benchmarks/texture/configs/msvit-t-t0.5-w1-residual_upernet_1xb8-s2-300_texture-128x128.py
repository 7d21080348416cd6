# Texture benchmark, stage 2: the MSViT row (msvit-t-t0.5-w1) with the rule-initialized gate:
# logit = scaled, per-image standardized low-entropy score + a zero-initialized MLP correction
# (the entropy rule's ranking at the start). Measured: docs/gate_levers_texture.md.
_base_ = ['./msvit-t-t0.5-w1_upernet_1xb8-s2-300_texture-128x128.py']
model = dict(backbone=dict(gate=dict(
    _delete_=True, type='ResidualRuleGate', statistic='entropy', rule_scale=2.0,
    hidden_dims=(64, 64, 64))))
