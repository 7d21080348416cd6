"""Stochastic depth per image in every layout, against mmcv's ``DropPath`` with the same draws."""
import pytest
import torch
from mmcv.cnn.bricks.drop import DropPath

from msvit_mm.ops.drop_path import batched_drop_path, packed_drop_path
from msvit_mm.ops.layouts import GridLayout, Layout, MaskedLayout, PackedLayout
from msvit_mm.ops.packing import token_activity
from msvit_mm.ops.patchify import in_bounds_mask

from .reference import ScaleTokensOf, pack, unpack


def _ragged(b=6, n=7, c=5, seed=0):
    """[B, N, C] tokens and [B, N] activity with a different token count per image."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(b, n, c, generator=gen)
    active = torch.rand(b, n, generator=gen) > 0.4
    active[:, 0] = True  # every image has a token
    return x, active


@pytest.mark.parametrize('drop_prob', [0.3, 0.7])
def test_packed_drop_path_is_mmcv_drop_path_per_image(drop_prob):
    x, active = _ragged()
    mmcv_drop = DropPath(drop_prob).train()
    torch.manual_seed(5)
    want = mmcv_drop(x)
    packed, seqlens = pack(x, active)
    image = torch.repeat_interleave(torch.arange(x.shape[0]), seqlens)
    torch.manual_seed(5)
    got = packed_drop_path(packed, drop_prob, image, x.shape[0])
    torch.testing.assert_close(got, pack(want, active)[0], rtol=0, atol=0)
    kept = want.flatten(1).abs().sum(1) > 0
    assert 0 < int(kept.sum()) < x.shape[0]  # both dropped and kept images in the draw
    torch.testing.assert_close(want[kept], x[kept] / (1 - drop_prob), rtol=0, atol=0)
    torch.manual_seed(5)
    torch.testing.assert_close(batched_drop_path(x, drop_prob), want, rtol=0, atol=0)


def test_no_drop_returns_the_branch():
    x, active = _ragged()
    packed, seqlens = pack(x, active)
    image = torch.repeat_interleave(torch.arange(x.shape[0]), seqlens)
    state = torch.random.get_rng_state()
    assert packed_drop_path(packed, 0., image, x.shape[0]) is packed
    assert batched_drop_path(x, 0.) is x
    assert torch.equal(torch.random.get_rng_state(), state)  # no draw either
    assert torch.equal(DropPath(0.5).eval()(x), x)


def _layouts(prefix_len=1, b=4, c=6):
    """The masked and packed layouts of one random mixed-scale batch (2 x 3 regions), and
    the masked sequence's activity."""
    gen = torch.Generator().manual_seed(2)
    hc, wc, r, valid_hw = 2, 3, 2, (3, 5)
    mask = torch.rand(b, hc, wc, generator=gen) > 0.5
    ca, fa = token_activity(mask, r, in_bounds_mask((hc * r, wc * r), valid_hw, 'cpu'))
    coarse = torch.randn(b, hc * wc, c, generator=gen)
    fine = torch.randn(b, hc * wc * r * r, c, generator=gen)
    prefix = torch.randn(b, prefix_len, c, generator=gen)
    weight = mask.float()
    seq, masked = MaskedLayout.from_tokens(
        ScaleTokensOf(coarse, fine, ca, fa, weight, r, valid_hw), prefix)
    tokens, packed = PackedLayout.from_tokens(
        ScaleTokensOf(coarse[ca], fine[fa], ca, fa, weight, r, valid_hw), prefix)
    return (seq, masked), (tokens, packed), masked.key_valid


def test_every_layout_has_the_interface():
    (_, masked), (_, packed), _ = _layouts()
    for layout in (GridLayout(1, (2, 3)), masked, packed):
        assert isinstance(layout, Layout)


def test_masked_and_packed_layouts_drop_the_same_images():
    (seq, masked), (tokens, packed), active = _layouts()
    torch.manual_seed(11)
    from_masked = masked.drop_path(seq, 0.5)
    torch.manual_seed(11)
    from_packed = packed.drop_path(tokens, 0.5)
    torch.testing.assert_close(from_packed, pack(from_masked, active)[0], rtol=0, atol=0)
    dropped = unpack(from_packed, active).flatten(1).abs().sum(1) == 0
    assert 0 < int(dropped.sum()) < seq.shape[0]
