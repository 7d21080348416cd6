"""mmseg2msvit.py: a whole mmseg ViT segmentor checkpoint (backbone, neck, heads) converted for
an MSViT segmentor gives mmseg's logits when every region is fine; what does not fit is named."""
import os
import os.path as osp

import mmseg
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from torch import nn

from msvit_mm.engine.checkpoints import (NonFiniteCheckpointError, check_weights_fit,
                                         load_weights_strict)
from tests.helpers import ROOT, assert_close_scaled, load_module

TOOL = osp.join(ROOT, 'tools', 'model_converters', 'mmseg2msvit.py')
CONFIG = osp.join(ROOT, 'configs', 'msvit', 'msvit-s-ft_upernet_8xb2-16k_ade20k-512x512.py')
MMSEG_CONFIG = osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs', 'vit',
                        'vit_deit-s16_upernet_8xb2-80k_ade20k-512x512.py')
BN = dict(type='BN', requires_grad=True)
# mmseg's DeiT-S UPerNet at tiny widths; applied alike to mmseg's config and ours
TINY = {
    'model.backbone.img_size': (64, 64), 'model.backbone.embed_dims': 32,
    'model.backbone.num_layers': 4, 'model.backbone.num_heads': 2,
    'model.backbone.out_indices': (0, 1, 2, 3), 'model.backbone.drop_path_rate': 0.0,
    'model.decode_head.in_channels': [32] * 4, 'model.decode_head.channels': 16,
    'model.decode_head.num_classes': 7, 'model.decode_head.norm_cfg': BN,
    'model.auxiliary_head.in_channels': 32, 'model.auxiliary_head.channels': 8,
    'model.auxiliary_head.num_classes': 7, 'model.auxiliary_head.norm_cfg': BN}
# mmseg's "mln" variants (vit_deit-s16_mln_upernet_*) have this neck
NECK = {'model.neck': dict(type='MultiLevelNeck', in_channels=[32] * 4, out_channels=32,
                           scales=[4, 2, 1, 0.5], _delete_=True)}
ALL_FINE = {'model.backbone.gate': dict(type='FixedGate', coarse=False), 'model.gate_loss': None}


@pytest.fixture(scope='module')
def tool():
    return load_module(TOOL, 'mmseg2msvit')


def build(config: str, options: dict) -> nn.Module:
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    cfg.model.pretrained = None
    return MODELS.build(cfg.model)


def mmseg_segmentor(options: dict, seed: int = 0) -> nn.Module:
    """mmseg's own EncoderDecoder of its DeiT-S UPerNet config, at ``options``, with random
    weights and norm statistics (so a weight loaded wrongly shows in the logits)."""
    torch.manual_seed(seed)
    model = build(MMSEG_CONFIG, options)
    model.init_weights()
    with torch.no_grad():
        for name, value in model.state_dict().items():
            if name.endswith('running_var'):
                value.uniform_(0.5, 1.5)
            elif name.endswith(('running_mean', 'cls_token', 'pos_embed')) or (
                    name.endswith('bias') and value.dim() == 1):
                value.normal_(0.0, 0.1)
            elif value.dim() == 1 and value.is_floating_point():  # norm gains
                value.normal_(1.0, 0.1)
    return model.eval()


def save_mmseg_checkpoint(model: nn.Module, path) -> str:
    """The layout of mmseg's released checkpoints: meta (plain values) + state_dict."""
    torch.save(dict(meta=dict(mmcv_version='1.3.7', time='Thu Jun 24 09:52:28 2021',
                              CLASSES=tuple(f'class{i}' for i in range(7)),
                              PALETTE=[[i, i, i] for i in range(7)], iter=80000),
                    state_dict=model.state_dict()), str(path))
    return str(path)


def options_of(neck: bool, all_fine: bool = False) -> dict:
    return {**TINY, **(NECK if neck else {}), **(ALL_FINE if all_fine else {})}


@pytest.mark.parametrize('neck,patch_bias', [(False, True), (True, False)],
                         ids=['deit-s16-config_patch-bias', 'mln-neck_no-patch-bias'])
def test_converted_segmentor_gives_mmseg_logits(tool, tmp_path, neck, patch_bias):
    options = options_of(neck)
    ref = mmseg_segmentor({**options, 'model.backbone.patch_bias': patch_bias})
    src = save_mmseg_checkpoint(ref, tmp_path / 'upernet_deit.pth')
    dst = str(tmp_path / 'out' / 'msvit.pth')
    out = tool.convert_file(src, dst, CONFIG, options)
    assert os.listdir(tmp_path / 'out') == ['msvit.pth']
    x = torch.randn(2, 3, 80, 48)  # not pos_embed's 64x64, edge regions: as ADE20K images
    with torch.no_grad():
        feats = ref.neck(ref.backbone(x)) if neck else ref.backbone(x)
        expected = [ref.decode_head(feats), ref.auxiliary_head(feats)]
        expected_logits = ref(x, mode='tensor')

    # the shipped config's learned gate: only MSViT's own weights are left at initialization
    model = build(CONFIG, options).eval()
    own = [k for k in model.state_dict() if k.startswith(('backbone.tokenizer.', 'gate_losses.'))]
    assert own and out['meta']['left_at_initialization'] == own
    checkpoint = torch.load(dst, weights_only=True)
    state = check_weights_fit(model, checkpoint, dst,
                              missing_ok=Config.fromfile(CONFIG).load_from_missing_ok)
    assert set(state) == set(model.state_dict()) - set(own)
    assert len(state) == len(ref.state_dict()) - patch_bias  # the bias is folded
    model.load_state_dict(state, strict=False)
    with torch.no_grad():
        fine = torch.zeros(2, 3, 2, dtype=torch.bool)
        feats, _ = model.backbone.forward_with_aux(x, coarse_mask=fine)
        feats = model.neck(feats) if neck else feats
        for got, want in zip([model.decode_head(feats), model.auxiliary_head(feats)], expected):
            assert_close_scaled(got, want, rel=1e-5)

    # every region fine (FixedGate): the whole segmentor, strict, equals mmseg's
    strict = load_weights_strict(build(CONFIG, options_of(neck, all_fine=True)), dst).eval()
    with torch.no_grad():
        assert_close_scaled(strict(x, mode='tensor'), expected_logits, rel=1e-5)


def test_folded_patch_bias_equals_the_bias_with_coarse_tokens_too(tool):
    """MSViT with the checkpoint's patch bias and MSViT without it (the bias folded into
    pos_embed) give the same features for mixed decisions, edge regions included."""
    source = mmseg_segmentor({**TINY, 'model.backbone.patch_bias': True}).state_dict()
    feats = []
    for patch_bias in (True, False):
        model = tool.build_model(CONFIG, {**TINY, 'model.backbone.patch_bias': patch_bias})
        state, report = tool.convert_segmentor(dict(state_dict=source), 'src',
                                               *tool.target_of(model))
        assert ('backbone.patch_embed.projection.bias' in state) == patch_bias
        model.load_state_dict(state, strict=False)
        torch.manual_seed(1)
        x, mixed = torch.randn(2, 3, 80, 48), torch.rand(2, 3, 2) < 0.5
        with torch.no_grad():
            feats.append(model.eval().backbone.forward_with_aux(x, coarse_mask=mixed)[0])
    assert mixed.any() and not mixed.all()
    for folded, kept in zip(feats[1], feats[0]):
        assert_close_scaled(folded, kept, rel=1e-5)


@pytest.fixture
def tiny_source():
    return mmseg_segmentor(options_of(False)).state_dict()


def refused(tool, tmp_path, state, match: str, error=ValueError) -> None:
    src = str(tmp_path / 'src.pth')
    torch.save(dict(meta=dict(iter=1), state_dict=state), src)
    before = os.stat(src).st_mtime_ns
    dst = tmp_path / 'out' / 'msvit.pth'
    with pytest.raises(error, match=match):
        tool.convert_file(src, str(dst), CONFIG, dict(TINY))
    assert not dst.parent.exists() or os.listdir(dst.parent) == []
    assert os.stat(src).st_mtime_ns == before


def test_unexpected_key_is_named(tool, tmp_path, tiny_source):
    tiny_source['decode_head.extra_conv.weight'] = torch.zeros(3, 3)
    refused(tool, tmp_path, tiny_source,
            r"1 weight\(s\) not in the MSViT model: decode_head\.extra_conv\.weight")


def test_missing_key_is_named(tool, tmp_path, tiny_source):
    del tiny_source['auxiliary_head.conv_seg.weight']
    refused(tool, tmp_path, tiny_source,
            r'1 weight\(s\) missing from the checkpoint: auxiliary_head\.conv_seg\.weight')


TIMM_NAMES = [('.ln1.', '.norm1.'), ('.ln2.', '.norm2.'),
              ('attn.attn.in_proj_weight', 'attn.qkv.weight'),
              ('attn.attn.in_proj_bias', 'attn.qkv.bias'), ('attn.attn.out_proj.', 'attn.proj.'),
              ('ffn.layers.0.0.', 'mlp.fc1.'), ('ffn.layers.1.', 'mlp.fc2.'),
              ('backbone.layers.', 'backbone.blocks.'),
              ('patch_embed.projection.', 'patch_embed.proj.')]


def timm_named(state: dict) -> dict:
    """The backbone under timm's names (as ViT checkpoints of the time of mmseg 0.x use)."""
    out = {}
    for key, value in state.items():
        for old, new in TIMM_NAMES:
            key = key.replace(old, new) if key.startswith('backbone.') else key
        out[key] = value
    return out


def test_timm_named_backbone_converts_and_a_wrong_shape_names_its_source(tool, tmp_path,
                                                                         tiny_source):
    expected, grid = tool.target_of(tool.build_model(CONFIG, dict(TINY)))
    want, _ = tool.convert_segmentor(dict(state_dict=tiny_source), 'mmseg', expected, grid)
    state = timm_named(tiny_source)
    assert 'backbone.blocks.0.mlp.fc1.weight' in state
    got, report = tool.convert_segmentor(dict(state_dict=state), 'timm', expected, grid)
    assert report.format == 'mmseg segmentor, timm backbone'
    assert list(got) == list(want) and all(torch.equal(got[k], want[k]) for k in want)
    state['backbone.blocks.0.mlp.fc1.weight'] = torch.zeros(64, 32)
    refused(tool, tmp_path, state, r'of another shape: backbone\.layers\.0\.ffn\.layers\.0\.0\.'
                                   r'weight \(from backbone\.blocks\.0\.mlp\.fc1\.weight\): '
                                   r'checkpoint \[64, 32\] vs model \[128, 32\]')
    good = dict(tiny_source)
    good['decode_head.conv_seg.weight'] = torch.zeros(8, 16, 1, 1)
    refused(tool, tmp_path, good, r'of another shape: decode_head\.conv_seg\.weight: '
                                  r'checkpoint \[8, 16, 1, 1\] vs model \[7, 16, 1, 1\]')


def test_non_finite_tensor_is_named(tool, tmp_path, tiny_source):
    tiny_source['decode_head.fpn_bottleneck.conv.weight'][0, 0, 0, 0] = float('nan')
    refused(tool, tmp_path, tiny_source, r'decode_head\.fpn_bottleneck\.conv\.weight',
            NonFiniteCheckpointError)


def test_backbone_only_checkpoint_points_to_vit2msvit(tool, tmp_path, tiny_source):
    state = {k: v for k, v in tiny_source.items() if k.startswith('backbone.')}
    refused(tool, tmp_path, state, 'not a whole segmentor checkpoint.*vit2msvit.py')


def test_full_size_config_takes_every_weight_of_mmseg_deit_s_upernet(tool):
    """mmseg's DeiT-S/16 UPerNet ADE20K model (its released checkpoint's architecture) maps
    key for key onto the full-size recipe config, which then runs a forward pass."""
    ref = build(MMSEG_CONFIG, {}).eval()
    model = tool.build_model(CONFIG).eval()
    expected, grid = tool.target_of(model)
    assert grid == (32, 32)
    state, report = tool.convert_segmentor(dict(state_dict=ref.state_dict()), 'mmseg', expected,
                                           grid)
    assert len(state) == len(ref.state_dict())
    assert set(report.initialized) == set(expected) - set(state)
    assert {k.split('.')[0] for k in report.initialized} == {'backbone', 'gate_losses'}
    model.load_state_dict(state, strict=False)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        logits = model(x, mode='tensor')
        fine = torch.zeros(1, 2, 3, dtype=torch.bool)
        got = model.backbone.forward_with_aux(x, coarse_mask=fine)[0]
        want = ref.backbone(x)
    assert logits.shape == (1, 150, 4, 6) and torch.isfinite(logits).all()
    for g, w in zip(got, want):
        assert_close_scaled(g, w, rel=1e-5)


def test_command_line_refuses_a_missing_source_before_building(tool, tmp_path):
    src = str(tmp_path / 'upernet_deit-s16.pth')
    with pytest.raises(FileNotFoundError, match=f'checkpoint file not found: {src}'):
        tool.main([src, str(tmp_path / 'msvit.pth'), '--config', CONFIG, '--cfg-options',
                   'model.backbone.num_layers=4', 'model.backbone.out_indices=(0,1,2,3)'])
    assert os.listdir(tmp_path) == []


def test_vit2msvit_on_a_segmentor_points_here(tmp_path, tiny_source, capsys):
    src = str(tmp_path / 'segmentor.pth')
    torch.save(dict(state_dict=tiny_source), src)
    vit2msvit = load_module(osp.join(ROOT, 'tools', 'model_converters', 'vit2msvit.py'),
                            'vit2msvit_segmentor')
    out = vit2msvit.main([src, str(tmp_path / 'backbone.pth')])
    assert not any(k.startswith(('decode_head.', 'backbone.')) for k in out['state_dict'])
    assert 'for a whole mmseg segmentor use tools/model_converters/mmseg2msvit.py' in \
        capsys.readouterr().out
