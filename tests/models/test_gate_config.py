"""How a backbone is given its gate: one ``gate=dict(type=...)``, checked before torch runs.

The removed shorthand (``gate_mode=`` and its four companions) is refused with the gate
config it stood for; a ``gate`` that is not a gate config, or that contradicts the
tokenizer, is refused naming what is wrong.
"""
import re

import pytest
from mmengine.config import Config
from mmseg.registry import MODELS

from msvit_mm.models.backbones import MSViT
from msvit_mm.models.gates import FixedGate, MLPGate, PixelStatGate, RandomGate, registered_gates
from msvit_mm.models.tokenizers import MixedScaleTokenizer
from tests.helpers import ROOT

from .test_msvit_backbone import TINY

BARE = {k: v for k, v in TINY.items() if k != 'gate'}


def _suggested(message: str) -> dict:
    """The ``gate=dict(...)`` a refusal suggests, as a dict."""
    match = re.search(r'use gate=(dict\(.*\)) \(in a config', message)
    assert match, message
    return eval(match.group(1))  # the message's own text, written by the refusal


@pytest.mark.parametrize('old, new, kind', [
    (dict(gate_mode='all_fine'), "gate=dict(type='FixedGate', coarse=False)", FixedGate),
    (dict(gate_mode='all_coarse'), "gate=dict(type='FixedGate', coarse=True)", FixedGate),
    (dict(gate_mode='random', random_coarse_ratio=0.3),
     "gate=dict(type='RandomGate', coarse_ratio=0.3)", RandomGate),
    (dict(gate_mode='random'), "gate=dict(type='RandomGate', coarse_ratio=0.5)", RandomGate),
    (dict(gate_mode='learned'), "gate=dict(type='MLPGate')", MLPGate),
    (dict(gate_threshold=0.3, gumbel_temperature=0.5, gate_hidden_dims=(8, 8)),
     "gate=dict(type='MLPGate', threshold=0.3, temperature=0.5, hidden_dims=(8, 8))", MLPGate),
])
def test_removed_shorthand_names_the_gate_config_it_stood_for(old, new, kind):
    for build in (lambda: MSViT(**BARE, **old), lambda: MixedScaleTokenizer(**old)):
        with pytest.raises(TypeError, match='shorthand was removed') as err:
            build()
        assert f'use {new} (in a config: model.backbone.gate)' in str(err.value)
        for key, value in old.items():
            assert f'{key}={value!r}' in str(err.value)
    # the suggestion builds the gate the shorthand built
    gate = MSViT(**BARE, gate=_suggested(str(err.value))).tokenizer.gate
    assert type(gate) is kind
    if kind is MLPGate and 'gate_threshold' in old:
        assert (gate.threshold, gate.temperature) == (0.3, 0.5)
        assert [m.out_features for m in gate.mlp if hasattr(m, 'out_features')] == [8, 8, 1]
    if kind is RandomGate:
        assert gate.coarse_ratio == old.get('random_coarse_ratio', 0.5)


def test_unknown_gate_mode_lists_the_gates():
    with pytest.raises(TypeError, match=r"gate_mode='sometimes'.*'FixedGate' \| 'RandomGate'"):
        MSViT(**BARE, gate_mode='sometimes')
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['depth'\]"):
        MixedScaleTokenizer(depth=3)


def test_a_config_with_the_shorthand_is_refused(tmp_path):
    base = f'{ROOT}/configs/baselines/vit-t16_upernet_1xb8-800_synthetic-ade20k-128x128.py'
    child = tmp_path / 'old.py'
    child.write_text(f"_base_ = ['{base}']\nmodel = dict(backbone=dict(gate_mode='all_coarse'))\n")
    cfg = Config.fromfile(str(child))
    with pytest.raises(TypeError, match=re.escape("use gate=dict(type='FixedGate', coarse=True)")):
        MODELS.build(cfg.model.backbone)


def test_no_gate_is_the_learned_gate_with_its_defaults():
    gate = MSViT(**BARE).tokenizer.gate
    assert type(gate) is MLPGate
    assert (gate.threshold, gate.temperature, gate.estimator) == (0.5, 1.0, 'straight_through')
    widths = [m.out_features for m in gate.mlp if hasattr(m, 'out_features')]
    assert widths == [128, 128, 128, 1] and gate.mlp[0].in_features == 3 * 32 * 32
    assert {'FixedGate', 'MLPGate', 'PixelStatGate', 'RandomGate'} <= set(registered_gates())


@pytest.mark.parametrize('gate, error, text', [
    ('MLPGate', TypeError, "gate must be a config dict .* got str 'MLPGate' "
                           r"\(write gate=dict\(type='MLPGate'\)\)"),
    (['MLPGate'], TypeError, 'gate must be a config dict'),
    (dict(type='MSViT'), TypeError, "type 'MSViT' is a registered module but not a gate"),
    (dict(type='NoSuchGate'), TypeError, "type 'NoSuchGate' is not registered; the gates are"),
    (dict(hidden_dims=(8,)), TypeError, 'has no type'),
    (dict(type='MLPGate', region_size=64), ValueError,
     'gate region_size=64 but coarse_patch_size=32'),
    (dict(type='PixelStatGate', in_channels=1), ValueError, 'gate in_channels=1 but in_channels=3'),
])
def test_a_wrong_gate_config_says_what_is_wrong(gate, error, text):
    with pytest.raises(error, match=text):
        MSViT(**BARE, gate=gate)
    with pytest.raises(error, match=text):  # through the registry as a config builds it
        MODELS.build(dict(type='MSViT', **BARE, gate=gate))


def test_the_tokenizer_passes_its_sizes_to_the_gate():
    tok = MixedScaleTokenizer(in_channels=1, coarse_patch_size=64,
                              gate=dict(type=PixelStatGate, region_size=64, in_channels=1))
    assert (tok.gate.region_size, tok.gate.in_channels) == (64, 1)
    tok = MixedScaleTokenizer(in_channels=4, gate=dict(type='MLPGate', hidden_dims=()))
    assert (tok.gate.region_size, tok.gate.mlp[0].in_features) == (32, 4 * 32 * 32)


def test_tokenizer_threshold_is_the_gates():
    tok = MixedScaleTokenizer(gate=dict(type='MLPGate', hidden_dims=(4,), threshold=0.2))
    assert tok.gate_threshold == 0.2
    tok.gate_threshold = 0.7
    assert tok.gate.threshold == 0.7
    with pytest.raises(ValueError, match='MLPGate threshold must be a number in'):
        tok.gate_threshold = float('nan')
    for gate in (dict(type='FixedGate'), dict(type='PixelStatGate', max_statistic=1.0)):
        tok = MixedScaleTokenizer(gate=gate)
        assert tok.gate_threshold is None
        with pytest.raises(AttributeError, match=f"{gate['type']} has no threshold"):
            tok.gate_threshold = 0.5
