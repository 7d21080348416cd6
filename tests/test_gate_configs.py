"""The gate of every shipped config, and swapping it in a child config.

Each config builds the gate it built with the ``gate_mode`` shorthand (read at ac335ca,
spelled below by :func:`shorthand_gate`, the removed mapping); a config that others inherit
from and whose children set their own gate carries none, so a child sets a whole
``gate=dict(...)`` without ``_delete_``.
"""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmseg.registry import MODELS

import msvit_mm  # noqa: F401  (registers the gates)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# configs/msvit_cls/ (mmpretrain classifiers) are built by tests/classification/test_configs.py
OWN = [p for p in sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True))
       if 'gate_benchmark' not in p and 'msvit_cls' not in p]
LEAVES = [p for p in OWN if '_base_' not in p]


def shorthand_gate(gate_mode='learned', gate_threshold=0.5, gumbel_temperature=1.0,
                   random_coarse_ratio=0.5, gate_hidden_dims=(128, 128, 128)) -> dict:
    """The gate config the removed ``gate_mode`` shorthand stood for (its old mapping)."""
    if gate_mode == 'learned':
        return dict(type='MLPGate', hidden_dims=tuple(gate_hidden_dims),
                    threshold=gate_threshold, temperature=gumbel_temperature)
    if gate_mode == 'random':
        return dict(type='RandomGate', coarse_ratio=random_coarse_ratio)
    return dict(type='FixedGate', coarse=gate_mode == 'all_coarse')


# what each config built before the shorthand was removed: the shorthand it set (the ADE20K
# configs, through configs/_base_/msvit_runtime.py) or the gate dict it set (the small ones)
ADE_LEARNED = shorthand_gate('learned', gate_threshold=0.5, gumbel_temperature=1.0)
SMALL_LEARNED = dict(type='MLPGate', hidden_dims=(64, 64, 64))
BEFORE = {
    'msvit/msvit-s_upernet_8xb2-80k_ade20k-512x512.py': ADE_LEARNED,
    'msvit/msvit-s-t0.25_upernet_8xb2-80k_ade20k-512x512.py': ADE_LEARNED,
    'msvit/msvit-s-ft_upernet_8xb2-16k_ade20k-512x512.py': ADE_LEARNED,  # newer: the same gate
    'msvit/msvit-s-t0.75_upernet_8xb2-80k_ade20k-512x512.py': ADE_LEARNED,
    'msvit/msvit-s_segmenter-mask_8xb1-160k_ade20k-512x512.py': ADE_LEARNED,
    'msvit/segmenter_msvit_ade20k.py': ADE_LEARNED,
    'msvit/upernet_msvit_ade20k.py': ADE_LEARNED,
    'baselines/random-gate-0.5_upernet_8xb2-80k_ade20k-512x512.py':
        shorthand_gate('random', random_coarse_ratio=0.5),
    'baselines/vit-s16_upernet_8xb2-80k_ade20k-512x512.py': shorthand_gate('all_fine'),
    'baselines/vit-s16_segmenter-mask_8xb1-160k_ade20k-512x512.py': shorthand_gate('all_fine'),
    'baselines/vit-s32_upernet_8xb2-80k_ade20k-512x512.py': shorthand_gate('all_coarse'),
    'msvit/msvit-t_upernet_1xb8-800_synthetic-ade20k-128x128.py': SMALL_LEARNED,
    'msvit/msvit-t-t0.25_upernet_1xb8-800_synthetic-ade20k-128x128.py': SMALL_LEARNED,
    'msvit/msvit-t-t0.75_upernet_1xb8-800_synthetic-ade20k-128x128.py': SMALL_LEARNED,
    'msvit/msvit-t-ft_upernet_1xb8-300_synthetic-ade20k-128x128.py': SMALL_LEARNED,
    # newer: the classification demo's gate, MLPGate's default widths
    'msvit/msvit-t-from-cls_upernet_1xb8-300_synthetic-ade20k-128x128.py':
        dict(type='MLPGate', hidden_dims=(128, 128, 128)),
    'baselines/random-gate-0.34_upernet_1xb8-800_synthetic-ade20k-128x128.py':
        dict(type='RandomGate', coarse_ratio=0.34),
    'baselines/vit-t16_upernet_1xb8-800_synthetic-ade20k-128x128.py':
        dict(type='FixedGate', coarse=False),
    'baselines/vit-t32_upernet_1xb8-800_synthetic-ade20k-128x128.py':
        dict(type='FixedGate', coarse=True),
}
# the same backbone, narrow and one layer deep: the gate does not depend on the widths
NARROW = dict(embed_dims=32, num_layers=1, num_heads=2, mlp_ratio=1, out_indices=(0,),
              init_cfg=None, pretrained=None)


def _rel(path: str) -> str:
    return osp.relpath(path, osp.join(REPO, 'configs'))


def _backbone(cfg: Config):
    return MODELS.build(dict(cfg.model.backbone, **NARROW))


def _signature(gate) -> tuple:
    """Type, arguments (``extra_repr`` names every one) and parameter shapes of a gate."""
    return type(gate).__name__, repr(gate), {k: tuple(v.shape)
                                             for k, v in gate.state_dict().items()}


def test_every_config_is_listed():
    assert sorted(BEFORE) == sorted(_rel(p) for p in LEAVES)


@pytest.mark.parametrize('name', sorted(BEFORE))
def test_config_builds_the_gate_it_built_before(name):
    cfg = Config.fromfile(osp.join(REPO, 'configs', name))
    built = _backbone(cfg)
    before = MODELS.build(dict(BEFORE[name], in_channels=built.in_channels,
                               region_size=built.tokenizer.coarse_patch_size))
    assert _signature(built.tokenizer.gate) == _signature(before)
    assert built.tokenizer.coarse_patch_size == 32


def _parents(path: str) -> list:
    """The repository configs ``path`` names in its ``_base_`` (not the mmseg:: ones)."""
    with open(path, encoding='utf-8') as f:
        match = re.search(r'^_base_\s*=\s*(\[[^\]]*\]|\'[^\']*\')', f.read(), re.M)
    if not match:
        return []
    names = eval(match.group(1))  # a literal list of strings
    names = [names] if isinstance(names, str) else names
    return [osp.normpath(osp.join(osp.dirname(path), n)) for n in names if '::' not in n]


def _ancestors(path: str) -> set:
    found, todo = set(), _parents(path)
    while todo:
        p = todo.pop()
        if p not in found:
            found.add(p)
            todo += _parents(p)
    return found


def _code(path: str) -> str:
    """The config file without comments and spaces."""
    with open(path, encoding='utf-8') as f:
        return re.sub(r'#.*', '', f.read()).replace(' ', '')


def _sets_gate(path: str) -> bool:
    return 'gate=' in _code(path)


# the configs a gate-setting child inherits from: each must carry no gate
GATELESS = sorted({a for p in OWN if _sets_gate(p) for a in _ancestors(p)})


def test_no_config_deletes_a_gate():
    for path in OWN:
        assert '_delete_' not in _code(path), _rel(path)
    assert GATELESS, 'no gate-setting config has a base'


@pytest.mark.parametrize('base', GATELESS, ids=[_rel(p) for p in GATELESS])
def test_a_child_swaps_the_gate_of_each_base(base, tmp_path):
    cfg = Config.fromfile(base)
    backbone = cfg.model.backbone if 'model' in cfg else cfg.msvit_backbone
    assert 'gate' not in backbone and not _sets_gate(base), _rel(base)
    if 'model' not in cfg:
        return  # configs/_base_/msvit_runtime.py: pieces, no model
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = ['{base}']\nmodel = dict(backbone=dict(gate=dict(\n"
                     "    type='PixelStatGate', statistic='std', coarse_ratio=0.25)))\n")
    gate = _backbone(Config.fromfile(str(child))).tokenizer.gate
    assert (type(gate).__name__, gate.statistic, gate.coarse_ratio) == ('PixelStatGate', 'std',
                                                                        0.25)
