import pytest
import torch

from msvit_mm.ops.packing import to_dense, token_activity, upsample_regions
from msvit_mm.ops.patchify import in_bounds_mask, pad_replicate, pool_cells, region_pixels
from tests.helpers import assert_close_scaled

from .reference import dense_to_tokens, pack, unpack


def test_pack_unpack_inverse():
    g = torch.Generator().manual_seed(0)
    seq = torch.randn(3, 20, 5, generator=g)
    active = torch.rand(3, 20, generator=g) > 0.4
    active[1] = True   # one full image
    active[2, 1:] = False  # one image with a single token
    tokens, seqlens = pack(seq, active)
    assert tokens.shape == (int(active.sum()), 5)
    assert seqlens.tolist() == active.sum(1).tolist()
    back = unpack(tokens, active)
    torch.testing.assert_close(back, seq * active[..., None], rtol=0, atol=0)
    torch.testing.assert_close(pack(back, active)[0], tokens, rtol=0, atol=0)
    # image order, then sequence order within an image
    torch.testing.assert_close(tokens[:seqlens[0]], seq[0][active[0]], rtol=0, atol=0)


def test_coarse_token_fills_exactly_its_cells():
    b, hc, wc, r, c = 2, 3, 4, 2, 6
    coarse = torch.arange(b * hc * wc * c, dtype=torch.float).reshape(b, hc * wc, c)
    fine = -1 - torch.rand(b, hc * r * wc * r, c)  # negative: never equal to a coarse value
    weight = (torch.rand(b, hc, wc) > 0.5).float()
    dense = to_dense(coarse, fine, weight, r)
    assert dense.shape == (b, c, hc * r, wc * r)
    fine_map = fine.reshape(b, hc * r, wc * r, c).permute(0, 3, 1, 2)
    for bi in range(b):
        for i in range(hc):
            for j in range(wc):
                cell = dense[bi, :, i * r:(i + 1) * r, j * r:(j + 1) * r]
                if weight[bi, i, j]:
                    expect = coarse[bi, i * wc + j][:, None, None].expand(c, r, r)
                else:
                    expect = fine_map[bi, :, i * r:(i + 1) * r, j * r:(j + 1) * r]
                torch.testing.assert_close(cell, expect, rtol=0, atol=0)


def test_dense_round_trip_is_identity_on_fine_grid():
    b, c, hc, wc, r = 2, 4, 3, 2, 4
    weight = (torch.rand(b, hc, wc) > 0.5).float()
    # a map constant on the coarse regions chosen coarse, arbitrary elsewhere
    region_vals = torch.randn(b, c, hc, wc)
    dense = torch.randn(b, c, hc * r, wc * r)
    w_up = upsample_regions(weight, r)[:, None]
    dense = torch.where(w_up > 0, region_vals.repeat_interleave(r, 2).repeat_interleave(r, 3),
                        dense)
    coarse, fine = dense_to_tokens(dense, r)
    assert_close_scaled(to_dense(coarse, fine, weight, r), dense, rel=1e-6)


def test_token_activity_counts_and_bounds():
    coarse = torch.tensor([[[True, False], [False, True]], [[False, False], [False, False]]])
    inb = in_bounds_mask((4, 4), (3, 4), torch.device('cpu'))  # last fine row is padding
    ca, fa = token_activity(coarse, 2, inb)
    assert ca.sum(1).tolist() == [2, 0]
    # image 0: two fine regions; region (1, 0) loses its padded row -> 4 + 2 fine tokens
    assert fa.sum(1).tolist() == [6, 12]
    assert not fa.reshape(2, 4, 4)[:, 3].any()


def test_region_pixels_raster_order():
    x = torch.arange(2 * 4 * 6, dtype=torch.float).reshape(1, 2, 4, 6)
    regions = region_pixels(x, 2)
    assert regions.shape == (1, 6, 8)
    torch.testing.assert_close(regions[0, 4], x[0, :, 2:4, 2:4].reshape(-1))


def test_coarse_pos_embed_averages_existing_cells():
    pos = torch.randn(1, 3, 3, 5)
    coarse = pool_cells(pad_replicate(pos, (4, 6)), 2)  # the tokenizer's coarse positions
    assert coarse.shape == (1, 3, 2, 3)
    assert_close_scaled(coarse[0, :, 0, 0], pos[0, :, :2, :2].mean((1, 2)), rel=1e-6)
    # straddling region (rows 2-3, cols 4-5): only cell (2, 4) exists
    torch.testing.assert_close(coarse[0, :, 1, 2], pos[0, :, 2, 4])


@pytest.mark.parametrize('scale', [1, 2, 3, 4])
def test_pool_cells_equals_avg_pool2d(scale):
    x = torch.randn(2, 3, 12, 24)
    pooled = pool_cells(x, scale)
    # bit for bit on CPU: the training numerics of the earlier avg_pool2d code are kept
    assert torch.equal(pooled, torch.nn.functional.avg_pool2d(x, scale))
    cl = x.contiguous(memory_format=torch.channels_last)
    assert torch.equal(pool_cells(cl, scale), torch.nn.functional.avg_pool2d(cl, scale))
    # any leading dims: [T, C, H, W] gathered patches and [C, H, W] alike
    assert torch.equal(pool_cells(x[0], scale), pooled[0])


def test_pool_cells_gradient_is_avg_pool2d_gradient():
    x = torch.randn(1, 2, 4, 6, requires_grad=True)
    g = torch.randn(1, 2, 2, 3)
    (grad,) = torch.autograd.grad(pool_cells(x, 2), x, g)
    (ref,) = torch.autograd.grad(torch.nn.functional.avg_pool2d(x, 2), x, g)
    assert_close_scaled(grad, ref, rel=1e-6)


@pytest.mark.parametrize('scale, hw', [(0, (6, 6)), (2, (6, 5)), (4, (6, 8))])
def test_pool_cells_rejects_what_it_cannot_pool(scale, hw):
    with pytest.raises(ValueError, match=rf'scale {scale}.*\({hw[0]}, {hw[1]}\)'):
        pool_cells(torch.zeros(1, 1, *hw), scale)
