"""Packed training's stand-in for the scale that did not run (``PackedLayout.counterfactual``)."""
import pytest
import torch

from msvit_mm.ops.layouts import PackedLayout
from msvit_mm.ops.packing import region_mean_cells, token_activity, upsample_regions
from msvit_mm.ops.patchify import in_bounds_mask
from tests.helpers import assert_close_scaled

from .reference import ScaleTokensOf


def test_region_mean_cells_averages_cells_that_exist():
    cells = torch.arange(2 * 3 * 3 * 1, dtype=torch.float).reshape(2, 3, 3, 1)
    out = region_mean_cells(cells, 2)
    img = cells[0, :, :, 0]
    assert out.shape == cells.shape
    assert out[0, 0, 0, 0] == img[:2, :2].mean()
    assert out[0, 1, 1, 0] == img[:2, :2].mean()
    assert out[0, 0, 2, 0] == img[:2, 2].mean()  # region cut by the right edge
    assert out[0, 2, 0, 0] == img[2, :2].mean()  # cut by the bottom edge
    assert out[0, 2, 2, 0] == img[2, 2]
    full = torch.randn(2, 4, 6, 5)
    pooled = torch.nn.functional.avg_pool2d(full.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
    assert_close_scaled(region_mean_cells(full, 2), upsample_regions(pooled, 2), 1e-6)


def _packed(mask, valid_hw, counterfactual, c=6, seed=0):
    """Packed tokens (leaf, requires grad) and a layout for decisions ``mask`` [B, Hc, Wc]."""
    gen = torch.Generator().manual_seed(seed)
    b, hc, wc = mask.shape
    coarse_active, fine_active = token_activity(
        mask, 2, in_bounds_mask((2 * hc, 2 * wc), valid_hw, mask.device))
    weight = mask.float().requires_grad_()
    coarse = torch.randn(int(coarse_active.sum()), c, generator=gen)
    fine = torch.randn(int(fine_active.sum()), c, generator=gen)
    tokens, layout = PackedLayout.from_tokens(
        ScaleTokensOf(coarse, fine, coarse_active, fine_active, weight, 2, valid_hw),
        counterfactual=counterfactual)
    return tokens.detach().requires_grad_(), layout, weight


@pytest.mark.parametrize('valid_hw', [(4, 6), (3, 5)])
def test_fine_mean_gradient_is_first_order_change_of_averaging(valid_hw):
    """dL/dw: sum over a fine region's cells of g . (mean - fine); 0 for a coarse region;
    values and the tokens' gradients as with 'zero'."""
    mask = torch.tensor([[[True, False, False], [False, True, False]],
                         [[False, False, True], [True, False, False]]])
    g = torch.randn(2, 6, *valid_hw, generator=torch.Generator().manual_seed(1))
    results = {}
    for cf in ('zero', 'fine_mean'):
        tokens, layout, weight = _packed(mask, valid_hw, cf)
        dense = layout.to_map(tokens)
        (dense * g).sum().backward()
        results[cf] = (dense.detach(), tokens.grad, weight.grad)
    assert torch.equal(results['zero'][0], results['fine_mean'][0])
    assert_close_scaled(results['fine_mean'][1], results['zero'][1], 1e-6)
    dense = results['zero'][0].permute(0, 2, 3, 1)  # B, Hv, Wv, C: the fine outputs where fine
    change = ((region_mean_cells(dense, 2) - dense) * g.permute(0, 2, 3, 1)).sum(-1)
    hv, wv = valid_hw
    padded = torch.zeros(2, 4, 6)
    padded[:, :hv, :wv] = change
    expected = padded.reshape(2, 2, 2, 3, 2).sum((2, 4))
    expected[mask] = 0.
    assert_close_scaled(results['fine_mean'][2], expected, 1e-5)
    assert results['fine_mean'][2][~mask].abs().sum() > 0  # fine regions do get a gradient
    # 'zero': coarse regions see g . coarse, fine ones -g . fine: another gradient
    assert not torch.allclose(results['zero'][2], results['fine_mean'][2])


def test_unknown_counterfactual_is_refused():
    with pytest.raises(ValueError, match='counterfactual'):
        _packed(torch.ones(1, 1, 1, dtype=torch.bool), (2, 2), 'mean')
