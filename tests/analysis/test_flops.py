"""MAC counting (msvit_mm/analysis/flops.py) against hand counts and the reference
counts of docs/design.md.

The reference encoder counts of docs/design.md ("Counting FLOPs and time"; ViT-S: 12 layers, C = 384, MLP ratio 4)
follow this convention, which the first test pins down:

    per layer  N * (4 C^2 [qkv + proj] + 8 C^2 [MLP]) + 2 * N^2 * C [Q K^T and A V]
    N          tokens + 1: the cls token is counted
    embedding  tokens * C * 3 * 16 * 16: only the tokens that exist are embedded
    not        LayerNorm, GELU, softmax, biases, additions
    224 x 224, 50% coarse = 24 of the 49 regions (124 tokens)

mmengine's counter also counts LayerNorm (5 MACs per element). Our tokenizer (packed
execution) embeds only the tokens that exist; its 2x2 poolings (coarse regions' pixels, the
position grid) are sums of strided views, element-wise additions that count 0, so the hand
counts below must match the counter exactly. The 1% comparisons with those references leave
out the gate (reported apart).
"""
import json
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer
from mmseg.models.backbones import VisionTransformer
from torch import nn

import msvit_mm  # noqa: F401
from msvit_mm.analysis.flops import (EXTRA_OP_HANDLES, count_image, merge_forwards,
                                     slide_crops, summarize)
from msvit_mm.models.backbones import MSViT
from tests.helpers import ROOT, load_module

SMALL_CONFIG = osp.join(ROOT, 'configs/msvit/msvit-t_upernet_1xb8-800_synthetic-ade20k-128x128.py')
C, LAYERS, P, SC = 384, 12, 16, 32
VIT_S = dict(patch_size=P, embed_dims=C, num_layers=LAYERS, num_heads=6, mlp_ratio=4,
             out_indices=(LAYERS - 1,), final_norm=True)
GATE_PER_REGION = 3 * SC * SC * 128 + 128 * 128 + 128 * 128 + 128  # 426,112


def reference_encoder(tokens: int) -> int:
    """docs/design.md's analytic ViT-S encoder count for ``tokens`` tokens (without cls)."""
    n = tokens + 1
    return LAYERS * (12 * n * C * C + 2 * n * n * C) + tokens * C * 3 * P * P


def hand_transformer(tokens: int) -> int:
    """Layers (with their two LayerNorms) and the final norm, as mmengine counts them."""
    n = tokens + 1
    return LAYERS * (12 * n * C * C + 2 * n * n * C + 2 * 5 * n * C) + 5 * n * C


def hand_msvit_tokenizer(tokens: int) -> int:
    """The tokens that exist embedded (pooling is additions: 0)."""
    return tokens * C * 3 * P * P


def encoder(record: dict) -> int:
    b = record['breakdown_macs']
    return b['tokenizer_gate'] + b['transformer']


def build(kind: str, side: int, **kwargs) -> nn.Module:
    torch.manual_seed(0)
    cls = VisionTransformer if kind == 'vit' else MSViT
    return cls(img_size=side, **VIT_S, **kwargs)


def half_coarse(side: int, num_coarse: int) -> torch.Tensor:
    mask = torch.zeros(1, (side // SC) ** 2, dtype=torch.bool)
    mask[0, torch.randperm(mask.shape[1], generator=torch.Generator().manual_seed(0))[
        :num_coarse]] = True
    return mask.reshape(1, side // SC, side // SC)


def close(value: float, ref: float, tol: float) -> bool:
    return abs(value - ref) <= tol * ref


def test_reference_convention_reproduces_design_numbers():
    got = [reference_encoder(t) / 1e9 for t in (196, 24 + 25 * 4, 1024, 128 + 128 * 4)]
    assert [round(g, 2) for g in got] == [4.60, 2.83, 31.75, 17.59]


def test_sdpa_handler_counts_both_products():
    class Attn(nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v)

    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    plain = FlopAnalyzer(Attn(), (q, k, v)).unsupported_ops_warnings(False)
    assert plain.total() == 0  # why the handler exists
    fa = FlopAnalyzer(Attn(), (q, k, v)).set_op_handle(**EXTRA_OP_HANDLES)
    assert fa.total() == 2 * 3 * 5 * 7 * (8 + 4)


def test_vit_s_224_matches_reference_and_hand_count():
    r = count_image(build('vit', 224), torch.randn(1, 3, 224, 224))
    assert (r['tokens'], r['coarse_ratio']) == (196, 0.)
    assert r['breakdown_macs']['tokenizer_gate'] == 196 * C * 3 * P * P
    assert r['breakdown_macs']['transformer'] == hand_transformer(196)
    assert r['macs'] == encoder(r)
    assert close(encoder(r) / 1e9, 4.60, 0.01), encoder(r)


def test_msvit_all_fine_is_vit_plus_coarse_embedding():
    vit = count_image(build('vit', 224), torch.randn(1, 3, 224, 224))
    r = count_image(build('msvit', 224, gate=dict(type='FixedGate', coarse=False)),
                    torch.randn(1, 3, 224, 224))
    assert (r['tokens'], r['coarse_ratio']) == (196, 0.)
    assert r['breakdown_macs']['gate'] == 0  # forced modes skip the gate
    assert r['breakdown_macs']['transformer'] == vit['breakdown_macs']['transformer']
    assert r['breakdown_macs']['tokenizer_gate'] == hand_msvit_tokenizer(196)
    assert close(encoder(r) / 1e9, 4.60, 0.01), encoder(r)


def test_msvit_forced_pattern_224_hand_count():
    model = build('msvit', 224)  # learned gate: it runs, its decisions are replaced
    r = count_image(model, torch.randn(1, 3, 224, 224), half_coarse(224, 24))
    tokens = 24 + 25 * 4
    assert (r['tokens'], r['coarse_ratio']) == (tokens, pytest.approx(24 / 49))
    b = r['breakdown_macs']
    assert b['gate'] == 49 * GATE_PER_REGION
    assert b['tokenizer_gate'] == hand_msvit_tokenizer(tokens) + b['gate']
    assert b['transformer'] == hand_transformer(tokens)
    like_for_like = encoder(r) - b['gate']
    assert close(like_for_like / 1e9, 2.83, 0.01), like_for_like


@pytest.mark.slow
def test_vit_s_512_and_msvit_half_coarse_512():
    vit = count_image(build('vit', 512), torch.randn(1, 3, 512, 512))
    assert vit['breakdown_macs']['transformer'] == hand_transformer(1024)
    assert close(encoder(vit) / 1e9, 31.75, 0.01), encoder(vit)

    r = count_image(build('msvit', 512), torch.randn(1, 3, 512, 512), half_coarse(512, 128))
    tokens = 128 + 128 * 4
    b = r['breakdown_macs']
    assert (r['tokens'], r['coarse_ratio']) == (tokens, 0.5)
    assert b['gate'] == 256 * GATE_PER_REGION  # 0.109 GMACs
    assert r['macs'] == hand_msvit_tokenizer(tokens) + b['gate'] + hand_transformer(tokens)
    like_for_like = encoder(r) - b['gate']
    assert close(like_for_like / 1e9, 17.59, 0.01), like_for_like


def _small_segmentor(neck: bool = False, plain_vit: bool = False):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    cfg = Config.fromfile(SMALL_CONFIG)
    init_default_scope('mmseg')
    cfg.model.backbone.init_cfg = None
    if plain_vit:  # mmseg's own segmentor and ViT, same sizes
        cfg.model.type = 'EncoderDecoder'
        cfg.model.pop('gate_loss')
        cfg.model.backbone = dict(type='VisionTransformer', img_size=128, embed_dims=96,
                                  num_layers=6, num_heads=3, out_indices=(1, 3, 4, 5))
    if neck:  # as mmseg's ViT-B UPerNet: maps at 4x, 2x, 1x, 0.5x
        cfg.model.neck = dict(type='MultiLevelNeck', in_channels=[96] * 4, out_channels=96,
                              scales=[4, 2, 1, 0.5])
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def _analyzer(module: nn.Module, feats) -> FlopAnalyzer:
    fa = FlopAnalyzer(module, (tuple(feats),)).set_op_handle(**EXTRA_OP_HANDLES)
    return fa.unsupported_ops_warnings(False).uncalled_modules_warnings(False)


@pytest.mark.skipif(not osp.isfile(SMALL_CONFIG), reason='small config not written yet')
@pytest.mark.parametrize('neck', [False, True])
def test_segmentor_counts_backbone_neck_and_decode_head_only(neck):
    model = _small_segmentor(neck)
    model.eval()
    img, mask = torch.randn(1, 3, 128, 128), half_coarse(128, 8)
    r = count_image(model, img, mask)
    alone = count_image(model.backbone, img, mask)  # the backbone on its own
    assert r['tokens'] == alone['tokens'] == 8 + 8 * 4
    with torch.no_grad():
        feats = model.backbone.forward_with_aux(img, mask)[0]
        neck_macs = _analyzer(model.neck, feats).total() if neck else 0
        feats = model.neck(feats) if neck else feats
    heads = _analyzer(model.decode_head, feats).total()
    b = r['breakdown_macs']
    assert (b['neck'], b['heads']) == (neck_macs, heads) and heads > 0
    assert neck_macs > 0 or not neck
    for key in ('tokenizer_gate', 'gate', 'transformer'):
        assert b[key] == alone['breakdown_macs'][key]
    # the auxiliary head (training only) is not counted, nor are its parameters
    assert r['macs'] == alone['macs'] + neck_macs + heads
    aux_params = sum(p.numel() for p in model.auxiliary_head.parameters())
    assert aux_params > 0 and r['params'] == sum(
        p.numel() for name, p in model.named_parameters()
        if not name.startswith(('auxiliary_head', 'gate_losses')))


@pytest.mark.skipif(not osp.isfile(SMALL_CONFIG), reason='small config not written yet')
def test_plain_vit_segmentor():
    model = _small_segmentor(plain_vit=True)
    r = count_image(model, torch.randn(1, 3, 128, 160))  # 8 x 10 patches
    b = r['breakdown_macs']
    assert (r['tokens'], r['coarse_ratio'], b['gate']) == (80, 0., 0)
    assert b['tokenizer_gate'] == 80 * 96 * 3 * P * P
    n = 81  # with cls; no final norm in this config
    assert b['transformer'] == 6 * (12 * n * 96 * 96 + 2 * n * n * 96 + 2 * 5 * n * 96)
    assert b['heads'] > 0 and r['macs'] == sum(b[k] for k in (
        'tokenizer_gate', 'transformer', 'neck', 'heads'))


def test_merge_and_summarize():
    def rec(macs, tokens, ratio):
        return dict(macs=macs, tokens=tokens, coarse_ratio=ratio, params=2_000_000, forwards=1,
                    unsupported_ops={'aten::add': 1},
                    breakdown_macs=dict(tokenizer_gate=macs // 4, gate=1, transformer=macs // 2,
                                        neck=0, heads=macs // 4))
    two = merge_forwards([rec(4_000_000_000, 100, 0.5), rec(2_000_000_000, 50, 0.0)])
    assert (two['macs'], two['tokens'], two['forwards'], two['coarse_ratio']) == (
        6_000_000_000, 150, 2, 0.25)
    s = summarize([two, rec(2_000_000_000, 30, 1.0)])
    assert (s['gmacs_mean'], s['gmacs_min'], s['gmacs_max']) == (4.0, 2.0, 6.0)
    assert (s['tokens_mean'], s['coarse_ratio_mean'], s['params_m']) == (90, 0.625, 2.0)
    assert s['breakdown']['transformer'] == 2.0 and s['forwards_mean'] == 1.5
    with pytest.raises(ValueError):
        summarize([])


def test_slide_crops_follow_mmseg_grid():
    img = torch.arange(512 * 683.).reshape(1, 1, 512, 683)
    crops = slide_crops(img, (512, 512), (480, 480))
    assert [c.shape[-2:] for c in crops] == [(512, 512)] * 2
    assert crops[0][0, 0, 0, 0] == 0 and crops[1][0, 0, 0, 0] == 683 - 512
    small = slide_crops(torch.zeros(1, 3, 300, 200), (512, 512), (480, 480))
    assert len(small) == 1 and small[0].shape[-2:] == (300, 200)


def _tool():
    return load_module(osp.join(ROOT, 'tools/analysis_tools/get_flops.py'), 'get_flops_tool')


JSON_KEYS = {'gmacs_mean', 'gmacs_min', 'gmacs_max', 'tokens_mean', 'coarse_ratio_mean',
             'params_m', 'breakdown'}


@pytest.mark.skipif(not osp.isfile(SMALL_CONFIG), reason='small config not written yet')
def test_tool_shape_writes_json(tmp_path):
    out = tmp_path / 'flops.json'
    _tool().main([SMALL_CONFIG.replace('msvit/msvit-t_', 'baselines/vit-t16_'),  # all fine
                  '--shape', '128', '128', '--json', str(out)])
    data = json.loads(out.read_text())
    assert JSON_KEYS <= set(data) and set(data['breakdown']) >= {
        'tokenizer_gate', 'transformer', 'neck', 'heads'}
    assert (data['tokens_mean'], data['coarse_ratio_mean'], data['num_images']) == (64, 0., 1)
    assert data['gmacs_min'] == data['gmacs_mean'] == data['gmacs_max'] > 0
    assert data['gmacs_mean'] == pytest.approx(sum(data['breakdown'][k] for k in (
        'tokenizer_gate', 'transformer', 'neck', 'heads')))


@pytest.mark.skipif(not osp.isfile(SMALL_CONFIG), reason='small config not written yet')
def test_tool_real_images_and_missing_data_root(tmp_path):
    from msvit_mm.datasets.synthetic_ade20k import make_synthetic_ade20k

    info = make_synthetic_ade20k(str(tmp_path / 'ade'), num_train=0, num_val=2, size=(128, 128))
    out = tmp_path / 'real.json'
    tool = _tool()
    tool.main([SMALL_CONFIG, '--num-images', '5', '--json', str(out), '--cfg-options',
               f"val_dataloader.dataset.data_root={info['data_root']}"])
    data = json.loads(out.read_text())
    assert data['num_images'] == len(data['per_image']) == 2  # the set has only 2
    assert all(16 <= p['tokens'] <= 64 for p in data['per_image'])
    assert data['tokens_mean'] == sum(p['tokens'] for p in data['per_image']) / 2
    missing = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match='--shape') as err:
        tool.main([SMALL_CONFIG, '--cfg-options', f'val_dataloader.dataset.data_root={missing}'])
    assert missing in str(err.value)


@pytest.mark.parametrize('gate', [dict(type='PixelStatGate', statistic='entropy', coarse_ratio=0.5),
                                  dict(type='RandomGate', coarse_ratio=0.5)])
def test_rule_and_random_gates_trace(gate):
    """The counter traces the rule gates (top-k per image) and the random gate."""
    model = build('msvit', 128, gate=gate).eval()
    r = count_image(model, torch.randn(1, 3, 128, 128))
    if gate['type'] == 'PixelStatGate':  # 8 of 16 regions coarse, exactly
        assert r['tokens'] == 8 + 8 * 4 and r['coarse_ratio'] == 0.5
    assert r['macs'] > 0
