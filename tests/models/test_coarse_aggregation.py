"""APT-style coarse-token aggregation (``coarse_aggregation='subpatch_linear'``): exact zeros at
initialization, a residual on coarse tokens only, packed equals masked, gradients reach it."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from msvit_mm.models.backbones import MSViT
from msvit_mm.models.tokenizers import MixedScaleTokenizer
from msvit_mm.ops.patchify import grid_size, pad_to_multiple
from tests.helpers import assert_close_scaled

from .helpers import SMALL

TINY = dict(SMALL, num_layers=4, out_indices=(1, 3), final_norm=True)


def _pair(seed: int = 0, **kwargs):
    """MSViT without and with the aggregation, the same weights (eval mode)."""
    torch.manual_seed(seed)
    plain = MSViT(**TINY, **kwargs)
    plain.init_weights()
    agg = MSViT(**TINY, coarse_aggregation='subpatch_linear', **kwargs)
    agg.init_weights()  # mmseg's ViT init re-draws every nn.Linear: the projection stays zero
    assert agg.tokenizer.aggregation.proj.weight.abs().sum() == 0
    missing, unexpected = agg.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and sorted(missing) == ['tokenizer.aggregation.proj.bias',
                                                  'tokenizer.aggregation.proj.weight']
    return plain.eval(), agg.eval()


def _batch():
    """Two 80x96 images (3x3 regions, the last row padded) and mixed decisions."""
    torch.manual_seed(1)
    x = torch.randn(2, 3, 80, 96)
    mask = torch.tensor([[[True, False, True], [False, True, True], [True, False, False]],
                         [[False, True, False], [True, True, False], [False, False, True]]])
    return x, mask


def _tokens(model, x, mask, execution):
    fine_pos, _ = model.fine_pos_embed(grid_size(x.shape[-2:], model.patch_size))
    return model.tokenizer(x, model.patch_embed, fine_pos, mask, execution=execution)


def _set_projection(model, seed: int = 2):
    torch.manual_seed(seed)
    with torch.no_grad():
        model.tokenizer.aggregation.proj.weight.normal_(std=0.05)
        model.tokenizer.aggregation.proj.bias.normal_(std=0.05)


def test_default_is_unchanged_and_bad_values_are_refused():
    plain = MSViT(**TINY)
    assert plain.tokenizer.coarse_aggregation is None
    assert not any(k.startswith('tokenizer.aggregation') for k in plain.state_dict())
    with pytest.raises(ValueError, match='coarse_aggregation'):
        MSViT(**TINY, coarse_aggregation='conv')
    with pytest.raises(ValueError, match='embed_dims'):
        MixedScaleTokenizer(coarse_aggregation='subpatch_linear')


@pytest.mark.parametrize('execution', ['masked', 'packed'])
def test_zero_init_equals_todays_model_exactly(execution):
    plain, agg = _pair(with_cls_token=True, gate=dict(type='MLPGate', hidden_dims=(8,)))
    x, mask = _batch()
    with torch.no_grad():
        a = _tokens(plain, x, mask, execution)
        b = _tokens(agg, x, mask, execution)
        out_a, _ = plain.forward_with_aux(x, mask, execution=execution)
        out_b, _ = agg.forward_with_aux(x, mask, execution=execution)
    assert torch.equal(a.coarse, b.coarse) and torch.equal(a.fine, b.fine)
    for o, p in zip(out_a, out_b):
        assert torch.equal(o, p)


def test_nonzero_projection_changes_coarse_tokens_by_the_sub_patch_map():
    plain, agg = _pair()
    _set_projection(agg)
    x, mask = _batch()
    with torch.no_grad():
        a = _tokens(plain, x, mask, 'masked')
        b = _tokens(agg, x, mask, 'masked')
        # reference: the patch conv on the padded image, each region's 4 cells concatenated
        proj = agg.patch_embed.projection
        fine = F.conv2d(pad_to_multiple(x, 32), proj.weight, proj.bias, stride=16)  # B,C,6,6
        sub = torch.cat([fine[:, :, 0::2, 0::2], fine[:, :, 0::2, 1::2],
                         fine[:, :, 1::2, 0::2], fine[:, :, 1::2, 1::2]], 1)  # B, 4C, 3, 3
        sub = sub.flatten(2).transpose(1, 2)  # B, 9, 4C (raster regions)
        w = agg.tokenizer.aggregation.proj
        expected = a.coarse + sub @ w.weight.T + w.bias
    assert torch.equal(a.fine, b.fine)
    assert (b.coarse - a.coarse).abs().amin() > 0  # every coarse token moved
    assert_close_scaled(b.coarse, expected)


@pytest.mark.parametrize('with_cls_token', [True, False])
def test_packed_and_masked_query_equal_masked_with_the_aggregation(with_cls_token):
    _, agg = _pair(with_cls_token=with_cls_token, gate=dict(type='MLPGate', hidden_dims=(8,)))
    _set_projection(agg)
    x, mask = _batch()
    with torch.no_grad():
        masked = _tokens(agg, x, mask, 'masked')
        packed = _tokens(agg, x, mask, 'packed')
        outs = {e: agg.forward_with_aux(x, mask, execution=e)[0]
                for e in ('masked', 'packed', 'masked_query')}
    assert_close_scaled(packed.coarse, masked.coarse[masked.coarse_active])
    for m, p, q in zip(outs['masked'], outs['packed'], outs['masked_query']):
        assert_close_scaled(p, m)
        assert_close_scaled(q, m)


@pytest.mark.parametrize('coarse', [False, True])
def test_packed_equals_masked_with_no_coarse_or_only_coarse_regions(coarse):
    _, agg = _pair()
    _set_projection(agg)
    x, _ = _batch()
    mask = torch.full((2, 3, 3), coarse)
    with torch.no_grad():
        masked, _ = agg.forward_with_aux(x, mask, execution='masked')
        packed, _ = agg.forward_with_aux(x, mask, execution='packed')
    for m, p in zip(masked, packed):
        assert_close_scaled(p, m)


@pytest.mark.parametrize('execution', ['masked', 'packed'])
def test_gradient_reaches_the_projection_and_the_patch_embedding(execution):
    _, agg = _pair()
    x, mask = _batch()
    agg.train()
    outs, _ = agg.forward_with_aux(x, mask, execution=execution)
    sum(o.square().mean() for o in outs).backward()
    proj = agg.tokenizer.aggregation.proj
    assert proj.weight.grad.abs().sum() > 0 and proj.bias.grad.abs().sum() > 0
    # a nonzero projection adds the sub-patch path to the patch embedding's gradient
    grads = {n: p.grad.clone() for n, p in agg.named_parameters() if p.grad is not None}
    agg.zero_grad()
    _set_projection(agg)
    outs, _ = agg.forward_with_aux(x, mask, execution=execution)
    sum(o.square().mean() for o in outs).backward()
    assert not torch.allclose(agg.patch_embed.projection.weight.grad,
                              grads['patch_embed.projection.weight'])


def test_projection_gradient_packed_equals_masked():
    _, agg = _pair()
    _set_projection(agg)
    x, mask = _batch()
    agg.train()
    grads = []
    for execution in ('masked', 'packed'):
        agg.zero_grad()
        outs, _ = agg.forward_with_aux(x, mask, execution=execution)
        sum(o.square().mean() for o in outs).backward()
        grads.append((agg.tokenizer.aggregation.proj.weight.grad.clone(),
                      agg.patch_embed.projection.weight.grad.clone()))
    for m, p in zip(*grads):
        assert_close_scaled(p, m, rel=1e-4)


LEVER_CONFIGS = {  # benchmarks/texture/configs/<name>_upernet_1xb8-s2-300_texture-128x128.py
    'msvit-t-t0.5-w1-apt': ('MLPGate', 'subpatch_linear'),
    'msvit-t-t0.5-w1-statgate': ('MLPGate', None),
    'msvit-t-t0.5-w1-residual': ('ResidualRuleGate', None),
    'random-0.5-apt': ('RandomGate', 'subpatch_linear'),
}


def test_lever_configs_build_their_lever_and_start_from_the_stage1_vit():
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from msvit_mm.engine.checkpoints import check_weights_fit

    root = osp.join(osp.dirname(__file__), '..', '..', 'benchmarks', 'texture', 'configs')
    stage1 = Config.fromfile(osp.join(root, 'vit-t16_upernet_1xb8-800_texture-128x128.py'))
    vit_state = MODELS.build(stage1.model).state_dict()
    for name, (gate, aggregation) in LEVER_CONFIGS.items():
        cfg = Config.fromfile(osp.join(root, f'{name}_upernet_1xb8-s2-300_texture-128x128.py'))
        model = MODELS.build(cfg.model)
        tokenizer = model.backbone.tokenizer
        assert type(tokenizer.gate).__name__ == gate and tokenizer.coarse_aggregation == aggregation
        check_weights_fit(model, dict(state_dict=vit_state), name,
                          missing_ok=cfg.get('load_from_missing_ok', ()))
