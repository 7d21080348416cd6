"""Fast packed execution against the reference path, value for value (and gradient).

Reference path: the masked tokenizer output -> its sequence -> ``pack`` -> layers with
``packed_attention_reference`` -> ``unpack`` -> ``to_dense`` (``reference.py``). Fast path: the
tokenizer's packed form -> ``PackedLayout.from_tokens`` -> ``packed_attention`` ->
``PackedLayout.to_map``.
"""
from dataclasses import dataclass
from typing import List

import pytest
import torch
from torch import nn

from msvit_mm.models.backbones import MSViT
from msvit_mm.models.backbones.layer_forward import run_layers
from msvit_mm.models.tokenizers.mixed_scale_tokenizer import is_patchify
from msvit_mm.ops.attention import equal_length_runs, packed_attention, varlen_kernel_applies
from msvit_mm.ops.layouts import MaskedLayout, PackedLayout
from msvit_mm.ops.drop_path import packed_drop_path
from msvit_mm.ops.packing import to_dense, token_activity
from msvit_mm.ops.patchify import grid_size, in_bounds_mask
from tests.helpers import assert_close_scaled, scaled_tol

from .reference import ScaleTokensOf, pack, packed_attention_reference, unpack

TINY = dict(img_size=64, patch_size=16, embed_dims=32, num_layers=3, num_heads=4, mlp_ratio=2,
            out_indices=(0, 2), final_norm=True, drop_rate=0., attn_drop_rate=0.,
            drop_path_rate=0., gate=dict(type='MLPGate', hidden_dims=(8, 8, 8)))


def _mha(c: int = 32, heads: int = 4) -> nn.MultiheadAttention:
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(c, heads, batch_first=True)
    with torch.no_grad():
        mha.in_proj_bias.normal_()
    return mha


def test_equal_length_runs():
    assert equal_length_runs([5, 5, 3, 5, 1]) == [(2, 5), (1, 3), (1, 5), (1, 1)]
    assert equal_length_runs([4, 4, 4]) == [(3, 4)]
    assert equal_length_runs([]) == []


@pytest.mark.parametrize('seqlens', [[5, 5, 3, 5, 1], [4, 4, 4], [7]])
def test_packed_attention_matches_reference(seqlens):
    mha = _mha()
    x = torch.randn(sum(seqlens), 32, requires_grad=True)
    ref = packed_attention_reference(x, mha, seqlens)
    out = packed_attention(x, mha, seqlens)
    assert_close_scaled(out, ref)
    g = torch.randn_like(ref)
    grads_ref = torch.autograd.grad(ref, [x, mha.in_proj_weight], g)
    grads = torch.autograd.grad(out, [x, mha.in_proj_weight], g)
    for a, b in zip(grads, grads_ref):
        assert_close_scaled(a, b)


def test_varlen_kernel_only_on_cuda_half():
    x = torch.randn(4, 8)
    assert not varlen_kernel_applies(x, 0.)
    assert not varlen_kernel_applies(x.half(), 0.)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_varlen_kernel_matches_reference_on_gpu():
    mha = _mha(64, 2).cuda().half()
    seqlens = [5, 9, 9, 1]
    x = torch.randn(sum(seqlens), 64, device='cuda', dtype=torch.half)
    assert varlen_kernel_applies(x, 0.)
    torch.testing.assert_close(packed_attention(x, mha, seqlens),
                               packed_attention_reference(x, mha, seqlens),
                               **scaled_tol(packed_attention_reference(x, mha, seqlens), 1e-3))


def _decisions(b: int, hc: int, wc: int) -> torch.Tensor:
    """Random decisions with image 0 all coarse and image 1 all fine."""
    mask = torch.rand(b, hc, wc, generator=torch.Generator().manual_seed(1)) > 0.5
    mask[0], mask[1] = True, False
    return mask


@pytest.mark.parametrize('prefix_len', [0, 1])
def test_packed_sequence_matches_pack(prefix_len):
    b, (hc, wc), r, c = 4, (2, 3), 2, 5
    valid_hw = (3, 5)  # padded fine grid 4 x 6: last row and column are padding
    mask = _decisions(b, hc, wc)
    weight = mask.float().requires_grad_()
    ca, fa = token_activity(mask, r, in_bounds_mask((hc * r, wc * r), valid_hw, 'cpu'))
    coarse, fine = torch.randn(b, hc * wc, c), torch.randn(b, hc * wc * r * r, c)
    prefix = torch.randn(b, prefix_len, c) if prefix_len else None
    parts = [coarse, fine] if prefix is None else [prefix, coarse, fine]
    acts = [ca, fa] if prefix is None else [torch.ones(b, 1, dtype=torch.bool), ca, fa]
    ref, seqlens = pack(torch.cat(parts, 1), torch.cat(acts, 1))
    tokens, layout = PackedLayout.from_tokens(
        ScaleTokensOf(coarse[ca], fine[fa], ca, fa, weight, r, valid_hw), prefix)
    seq, masked = MaskedLayout.from_tokens(
        ScaleTokensOf(coarse, fine, ca, fa, weight, r, valid_hw), prefix)
    torch.testing.assert_close(tokens, ref, rtol=0, atol=0)
    torch.testing.assert_close(seq, torch.cat(parts, 1), rtol=0, atol=0)
    assert torch.equal(masked.key_valid, torch.cat(acts, 1))
    assert layout.seqlens == seqlens.tolist()
    assert layout.sample_index.tolist() == sum(([i] * n for i, n in enumerate(seqlens)), [])
    starts = torch.cumsum(seqlens, 0) - seqlens
    assert layout.first_rows.tolist() == starts.tolist()
    # dense maps: one gather == unpack + to_dense (cropped) == the masked layout's map,
    # with and without gradient; the first tokens are the cls tokens
    p = prefix_len
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            seq = unpack(tokens, torch.cat(acts, 1))
            want = to_dense(seq[:, p:p + hc * wc], seq[:, p + hc * wc:], weight, r)
            want = want[:, :, :valid_hw[0], :valid_hw[1]]
            got = layout.to_map(tokens)
            from_masked = masked.to_map(seq)
        torch.testing.assert_close(got, want, rtol=0, atol=0)
        torch.testing.assert_close(from_masked, want, rtol=0, atol=0)
    if prefix is not None:
        torch.testing.assert_close(layout.first_tokens(tokens), prefix[:, 0], rtol=0, atol=0)
    g = torch.randn_like(want)
    assert_close_scaled(torch.autograd.grad(got, weight, g)[0],
                        torch.autograd.grad(want, weight, g)[0])


@pytest.mark.parametrize('gate', [None, dict(type='FixedGate', coarse=False),
                                  dict(type='FixedGate', coarse=True)])
@pytest.mark.parametrize('hw', [(64, 96), (50, 70)])
def test_packed_tokenizer_embeds_the_active_tokens(gate, hw):
    model = MSViT(**dict(TINY, gate=gate or TINY['gate'])).eval()
    x = torch.randn(3, 3, *hw)
    mask = _decisions(3, *grid_size(hw, 32)) if gate is None else None
    fine_pos, _ = model.fine_pos_embed(grid_size(hw, 16))
    with torch.no_grad():
        dense = model.tokenizer(x, model.patch_embed, fine_pos, mask)
        packed = model.tokenizer(x, model.patch_embed, fine_pos, mask, execution='packed')
    assert (packed.execution, dense.execution) == ('packed', 'masked')
    assert_close_scaled(packed.coarse, dense.coarse[dense.coarse_active])
    assert_close_scaled(packed.fine, dense.fine[dense.fine_active])
    assert torch.equal(packed.coarse_weight, dense.coarse_weight)
    with pytest.raises(ValueError, match="execution='dense'"):
        model.tokenizer(x, model.patch_embed, fine_pos, mask, execution='dense')


def test_packed_tokenizer_with_another_projection():
    """A projection that does not embed patches alone (padding) embeds the whole image."""
    model = MSViT(**TINY).eval()
    old = model.patch_embed.projection
    model.patch_embed.projection = nn.Conv2d(3, 32, 16, 16, padding=1)
    assert is_patchify(old, 16) and not is_patchify(model.patch_embed.projection, 16)
    x = torch.randn(2, 3, 64, 64)
    mask = _decisions(2, 2, 2)
    fine_pos, _ = model.fine_pos_embed((4, 4))
    with torch.no_grad():
        dense = model.tokenizer(x, model.patch_embed, fine_pos, mask)
        packed = model.tokenizer(x, model.patch_embed, fine_pos, mask, execution='packed')
    assert_close_scaled(packed.fine, dense.fine[dense.fine_active])
    assert_close_scaled(packed.coarse, dense.coarse[dense.coarse_active])


@dataclass
class ReferenceLayout:
    """Packed tokens the straightforward way: attention image by image, maps via ``unpack``."""
    active: torch.Tensor
    seqlens: List[int]
    masked: object  # the masked sequence's layout

    def attention(self, x, mha, dropout_p=0.):
        return packed_attention_reference(x, mha, self.seqlens, dropout_p)

    def drop_path(self, x, drop_prob):
        image = torch.repeat_interleave(torch.arange(len(self.seqlens)),
                                        torch.tensor(self.seqlens))
        return packed_drop_path(x, drop_prob, image, len(self.seqlens))

    def to_map(self, x):
        return self.masked.to_map(unpack(x, self.active))

    def first_tokens(self, x):
        return unpack(x, self.active)[:, 0]


def reference_forward(model: MSViT, x: torch.Tensor, mask: torch.Tensor) -> list:
    """MSViT's packed execution the straightforward way (masked tokens, pack, unpack)."""
    fine_pos, cls_pos = model.fine_pos_embed(grid_size(x.shape[-2:], 16))
    tokens = model.tokenizer(x, model.patch_embed, fine_pos, mask)
    prefix = (model.cls_token + cls_pos).expand(x.shape[0], -1, -1) \
        if model.with_cls_token else None
    seq, masked = tokens.sequence(prefix)
    active = torch.ones(seq.shape[:2], dtype=torch.bool) if masked.key_valid is None \
        else masked.key_valid
    packed, seqlens = pack(seq, active)
    return run_layers(model, packed, ReferenceLayout(active, seqlens.tolist(), masked))


def _flat(outs):
    return [t for o in outs for t in (o if isinstance(o, list) else [o])]


@pytest.mark.parametrize('kwargs', [
    dict(with_cls_token=True),
    dict(with_cls_token=False),
    dict(with_cls_token=True, output_cls_token=True, out_origin=True, pre_norm=True),
])
@pytest.mark.parametrize('hw', [(64, 96), (50, 70)])
def test_packed_backbone_matches_reference(kwargs, hw):
    torch.manual_seed(0)
    model = MSViT(**dict(TINY, **kwargs), execution='packed')
    model.init_weights()
    x = torch.randn(3, 3, *hw)
    mask = _decisions(3, *grid_size(hw, 32))
    # inference
    model.eval()
    with torch.no_grad():
        fast = _flat(model.forward_with_aux(x, mask)[0])
        ref = _flat(reference_forward(model, x, mask))
    assert len(fast) == len(ref)
    for f, r in zip(fast, ref):
        assert f.shape == r.shape
        assert_close_scaled(f, r)
    # training (learned gate: the straight-through weight carries the gradient to the gate)
    model.train()
    params = [p for p in model.parameters()]
    grads = []
    for run in (lambda: model.forward_with_aux(x, mask)[0],
                lambda: reference_forward(model, x, mask)):
        outs = _flat(run())
        loss = sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).sum() for o in outs)
        grads.append(torch.autograd.grad(loss, params, allow_unused=True))
    for name, (p, a, b) in zip([n for n, _ in model.named_parameters()], zip(params, *grads)):
        assert (a is None) == (b is None), name
        if a is not None:
            # 1e-5 of the largest entry: on an AMD EPYC one element of a gradient reaching 28
            # was off by 1.06e-5 (3.8e-7 of the largest), beyond the former atol=1e-5
            assert_close_scaled(a, b, rel=1e-5, msg=name)
    gate_grad = dict(zip([n for n, _ in model.named_parameters()], grads[0]))
    assert gate_grad['tokenizer.gate.mlp.6.bias'].abs().sum() > 0
