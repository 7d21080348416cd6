"""Mixed-scale token layout: which tokens are active, dense unpacking.

A mixed-scale sequence per image is ``[prefix (cls) | Nc coarse | Nf fine]`` with
``Nc = Hc * Wc`` coarse regions and ``Nf = Hp * Wp`` fine cells (``Hp = r * Hc``), all in
raster order. ``active`` [B, N] says which tokens exist for an image: a coarse token where
the gate kept the region coarse, its ``r * r`` fine tokens otherwise (fine cells outside the
image's own fine grid never exist); packed, they are ``seq[active]`` [T, C].

``to_dense`` turns the coarse and fine parts into a [B, C, Hp, Wp] map, each coarse token
filling exactly its ``r x r`` cells. Pure tensor functions, no Python loop over images.

Masked execution unpacks with ``to_dense``; packed execution builds its tokens and maps
without the dense sequence (``msvit_mm.ops.packed_layout``) and is tested against the
reference path (``pack`` / ``unpack`` in ``tests/ops/reference.py``, then ``to_dense``).
"""
from typing import Tuple

import torch
from torch import Tensor


def token_activity(coarse: Tensor, scale: int, fine_in_bounds: Tensor) -> Tuple[Tensor, Tensor]:
    """Active coarse and fine tokens from the per-region decisions.

    Args:
        coarse: [B, Hc, Wc] bool, True where the region is one coarse token.
        scale: fine cells per coarse side ``r``.
        fine_in_bounds: [Hp * Wp] bool, fine cells inside the image's own fine grid.

    Returns:
        coarse_active [B, Hc * Wc] and fine_active [B, Hp * Wp], bool.
    """
    b = coarse.shape[0]
    fine_parent = upsample_regions(coarse, scale).reshape(b, -1)
    return coarse.reshape(b, -1), ~fine_parent & fine_in_bounds


def upsample_regions(x: Tensor, scale: int) -> Tensor:
    """Repeat each region value over its ``r x r`` fine cells: [B, Hc, Wc, *] -> [B, Hp, Wp, *]."""
    return x.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)


def region_mean_cells(cells: Tensor, scale: int) -> Tensor:
    """Each cell replaced by the mean of its region's cells: [B, Hv, Wv, C] -> same shape.

    Regions are ``scale x scale`` blocks from the top-left corner; a region cut by the
    bottom/right edge averages only the cells that are there.
    """
    b, hv, wv, c = cells.shape
    hc, wc = -(-hv // scale), -(-wv // scale)
    pad = (0, 0, 0, wc * scale - wv, 0, hc * scale - hv)
    sums = torch.nn.functional.pad(cells, pad).reshape(b, hc, scale, wc, scale, c).sum((2, 4))
    ones = torch.nn.functional.pad(cells.new_ones(1, hv, wv, 1), pad)
    counts = ones.reshape(1, hc, scale, wc, scale, 1).sum((2, 4))
    return upsample_regions(sums / counts, scale)[:, :hv, :wv]


def to_dense(coarse_tokens: Tensor, fine_tokens: Tensor, coarse_weight: Tensor,
             scale: int) -> Tensor:
    """Unpack a mixed-scale output to the fine grid.

    Args:
        coarse_tokens: [B, Hc * Wc, C].
        fine_tokens: [B, Hp * Wp, C] with Hp = r * Hc, Wp = r * Wc.
        coarse_weight: [B, Hc, Wc] float, the (straight-through) gate decision: 1 keeps the
            coarse token, 0 the fine ones. Forward values are in {0, 1}; its gradient
            carries the task loss to the gate.
        scale: ``r``.

    Returns:
        [B, C, Hp, Wp]: each coarse token repeated over its ``r x r`` cells where the weight
        is 1, the fine tokens where it is 0.
    """
    b, hc, wc = coarse_weight.shape
    c = coarse_tokens.shape[-1]
    coarse_map = upsample_regions(coarse_tokens.reshape(b, hc, wc, c), scale)
    fine_map = fine_tokens.reshape(b, hc * scale, wc * scale, c)
    w = upsample_regions(coarse_weight, scale).unsqueeze(-1).to(fine_map.dtype)
    dense = w * coarse_map + (1 - w) * fine_map
    return dense.permute(0, 3, 1, 2)
