"""Mixed-scale token layout: which tokens are active, pack/unpack, dense unpacking.

A mixed-scale sequence per image is ``[prefix (cls) | Nc coarse | Nf fine]`` with
``Nc = Hc * Wc`` coarse regions and ``Nf = Hp * Wp`` fine cells (``Hp = r * Hc``), all in
raster order. ``active`` [B, N] says which tokens exist for an image: a coarse token where
the gate kept the region coarse, its ``r * r`` fine tokens otherwise (fine cells outside the
image's own fine grid never exist). ``pack`` / ``unpack`` are an inverse pair:

    tokens, seqlens = pack(seq, active)   # [B, N, C] -> [T, C], T = active.sum()
    seq0 = unpack(tokens, active)         # [T, C] -> [B, N, C], zeros where inactive

``to_dense`` turns the coarse and fine parts into a [B, C, Hp, Wp] map, each coarse token
filling exactly its ``r x r`` cells. Pure tensor functions, no Python loop over images.

Fast packed execution skips the dense sequence: ``pack_mixed_scale`` builds the packed
tokens from the active ones of each scale (and a :class:`PackedLayout`), and
``packed_to_dense`` gathers the fine-grid map from them directly; both are tested against
``pack`` / ``unpack`` / ``to_dense``, the reference path.
"""
from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
from torch import Tensor


def token_activity(coarse: Tensor, ratio: int, fine_in_bounds: Tensor) -> Tuple[Tensor, Tensor]:
    """Active coarse and fine tokens from the per-region decisions.

    Args:
        coarse: [B, Hc, Wc] bool, True where the region is one coarse token.
        ratio: fine cells per coarse side ``r``.
        fine_in_bounds: [Hp * Wp] bool, fine cells inside the image's own fine grid.

    Returns:
        coarse_active [B, Hc * Wc] and fine_active [B, Hp * Wp], bool.
    """
    b = coarse.shape[0]
    fine_parent = upsample_regions(coarse, ratio).reshape(b, -1)
    return coarse.reshape(b, -1), ~fine_parent & fine_in_bounds


def upsample_regions(x: Tensor, ratio: int) -> Tensor:
    """Repeat each region value over its ``r x r`` fine cells: [B, Hc, Wc, *] -> [B, Hp, Wp, *]."""
    return x.repeat_interleave(ratio, dim=1).repeat_interleave(ratio, dim=2)


def pack(seq: Tensor, active: Tensor) -> Tuple[Tensor, Tensor]:
    """Keep the active tokens of every image, concatenated: [B, N, C] -> [T, C].

    Returns the tokens (image 0's first, each image's in sequence order) and the
    per-image counts ``seqlens`` [B] (long) with ``seqlens.sum() == T``.
    """
    return seq[active], active.sum(1)


def unpack(tokens: Tensor, active: Tensor) -> Tensor:
    """Inverse of :func:`pack`: [T, C] -> [B, N, C], zeros at inactive positions."""
    out = tokens.new_zeros(active.shape + tokens.shape[1:])
    out[active] = tokens
    return out


def to_dense(coarse_tokens: Tensor, fine_tokens: Tensor, coarse_weight: Tensor,
             ratio: int) -> Tensor:
    """Unpack a mixed-scale output to the fine grid.

    Args:
        coarse_tokens: [B, Hc * Wc, C].
        fine_tokens: [B, Hp * Wp, C] with Hp = r * Hc, Wp = r * Wc.
        coarse_weight: [B, Hc, Wc] float, the (straight-through) gate decision: 1 keeps the
            coarse token, 0 the fine ones. Forward values are in {0, 1}; its gradient
            carries the task loss to the gate.
        ratio: ``r``.

    Returns:
        [B, C, Hp, Wp]: each coarse token repeated over its ``r x r`` cells where the weight
        is 1, the fine tokens where it is 0.
    """
    b, hc, wc = coarse_weight.shape
    c = coarse_tokens.shape[-1]
    coarse_map = upsample_regions(coarse_tokens.reshape(b, hc, wc, c), ratio)
    fine_map = fine_tokens.reshape(b, hc * ratio, wc * ratio, c)
    w = upsample_regions(coarse_weight, ratio).unsqueeze(-1).to(fine_map.dtype)
    dense = w * coarse_map + (1 - w) * fine_map
    return dense.permute(0, 3, 1, 2)


def dense_to_tokens(dense: Tensor, ratio: int) -> Tuple[Tensor, Tensor]:
    """Tokens of both scales from a fine-grid map: [B, C, Hp, Wp] -> coarse, fine.

    The coarse token of a region is the mean of its ``r x r`` cells, so
    ``to_dense(*dense_to_tokens(d, r), w, r) == d`` wherever ``d`` is constant on the
    coarse regions selected by ``w`` (and everywhere on fine regions).
    """
    coarse = torch.nn.functional.avg_pool2d(dense, ratio)
    return coarse.flatten(2).transpose(1, 2), dense.flatten(2).transpose(1, 2)


@dataclass
class PackedLayout:
    """Where the tokens of a packed mixed-scale batch sit; made once per forward.

    Attributes:
        seqlens: tokens per image (Python ints, prefix included): the forward's one host sync.
        sample_index: [T] long, image of every packed token.
        first_rows: [B] long, packed row of each image's first token (its cls token if any).
        coarse_rows: [B, Hv, Wv] long, packed row of the coarse token covering each cell of
            the image's fine grid, ``T`` (one past the last row) where the region is fine.
        fine_rows: [B, Hv, Wv] long, packed row of each cell's fine token, ``T`` where none.
    """
    seqlens: List[int]
    sample_index: Tensor
    first_rows: Tensor
    coarse_rows: Tensor
    fine_rows: Tensor


def pack_mixed_scale(coarse: Tensor, fine: Tensor, coarse_active: Tensor, fine_active: Tensor,
                     grid: Tuple[int, int], ratio: int, valid_hw: Tuple[int, int],
                     prefix: Optional[Tensor] = None) -> Tuple[Tensor, PackedLayout]:
    """Pack ``[prefix | coarse | fine]`` from the tokens that exist, without the dense sequence.

    The tokens of ``pack(seq, active)`` on the dense sequence (image-major, then sequence
    order), put in place by one ``index_copy``.

    Args:
        coarse: [Tc, C] active coarse tokens, ``coarse_dense[coarse_active]``.
        fine: [Tf, C] active fine tokens, ``fine_dense[fine_active]``.
        coarse_active: [B, Hc * Wc] bool. fine_active: [B, Hp * Wp] bool, Hp = ratio * Hc.
        grid: (Hc, Wc). ratio: fine cells per coarse side.
        valid_hw: (Hv, Wv), the image's own fine grid (<= (Hp, Wp)).
        prefix: [B, P, C] always-active tokens (the cls token), or None.

    Returns:
        tokens [T, C] (T = B * P + Tc + Tf) and their :class:`PackedLayout`.
    """
    b, nc = coarse_active.shape
    p = 0 if prefix is None else prefix.shape[1]
    active = torch.cat([coarse_active.new_ones(b, p), coarse_active, fine_active], 1)
    total = b * p + coarse.shape[0] + fine.shape[0]
    rows = active.flatten().cumsum(0).view(b, -1) - 1
    rows = torch.where(active, rows, total)  # B, N: packed row, T where absent
    coarse_rows, fine_rows = rows[:, p:p + nc], rows[:, p + nc:]
    parts, dst = [coarse, fine], [coarse_rows[coarse_active], fine_rows[fine_active]]
    if prefix is not None:
        parts.insert(0, prefix.flatten(0, 1))
        dst.insert(0, rows[:, :p].flatten())
    src = torch.cat(parts)
    tokens = src.new_empty(src.shape).index_copy(0, torch.cat(dst), src)
    counts = active.sum(1)
    seqlens = counts.tolist()
    sample_index = torch.repeat_interleave(torch.arange(b, device=tokens.device), counts,
                                           output_size=total)
    (hc, wc), (hv, wv) = grid, valid_hw
    coarse_map = upsample_regions(coarse_rows.reshape(b, hc, wc), ratio)[:, :hv, :wv]
    fine_map = fine_rows.reshape(b, hc * ratio, wc * ratio)[:, :hv, :wv]
    return tokens, PackedLayout(seqlens=seqlens, sample_index=sample_index,
                                first_rows=counts.cumsum(0) - counts,
                                coarse_rows=coarse_map.contiguous(),
                                fine_rows=fine_map.contiguous())


def packed_cell_rows(layout: PackedLayout, coarse_weight: Tensor, ratio: int) -> Tensor:
    """[B, Hv, Wv] long: the packed row each fine cell reads, its coarse token's where the
    (straight-through) weight [B, Hc, Wc] is 1, its fine token's where it is 0."""
    _, hv, wv = layout.fine_rows.shape
    w = upsample_regions(coarse_weight, ratio)[:, :hv, :wv]
    return torch.where(w > 0.5, layout.coarse_rows, layout.fine_rows)


def packed_to_dense(tokens: Tensor, layout: PackedLayout, coarse_weight: Tensor, ratio: int,
                    cell_rows: Optional[Tensor] = None) -> Tensor:
    """Packed tokens to the image's fine grid: [T, C] -> [B, C, Hv, Wv], one gather.

    Same values as ``to_dense`` of ``unpack(tokens, active)`` cropped to (Hv, Wv). When
    ``coarse_weight`` needs a gradient (learned gate, training) it is kept as in
    ``to_dense``: ``w * coarse + (1 - w) * fine`` with absent tokens read as zeros.

    Args:
        tokens: [T, C] packed tokens.
        layout: from :func:`pack_mixed_scale`.
        coarse_weight: [B, Hc, Wc] float decisions (straight-through), values in {0, 1}.
        ratio: fine cells per coarse side.
        cell_rows: ``packed_cell_rows(layout, coarse_weight, ratio)`` if already made (it is
            the same for every output of a forward).
    """
    b, hv, wv = layout.fine_rows.shape
    c = tokens.shape[-1]
    if torch.is_grad_enabled() and coarse_weight.requires_grad:
        padded = torch.cat([tokens, tokens.new_zeros(1, c)])  # row T: the absent token
        w = upsample_regions(coarse_weight, ratio)[:, :hv, :wv, None].to(tokens.dtype)
        dense = w * padded[layout.coarse_rows] + (1 - w) * padded[layout.fine_rows]
        return dense.permute(0, 3, 1, 2).contiguous()
    if cell_rows is None:
        cell_rows = packed_cell_rows(layout, coarse_weight, ratio)
    # gather columns of [C, T]: the map comes out channel-first (cheaper than gathering rows
    # of [T, C] and permuting the map); [C, B, Hv, Wv] -> [B, C, Hv, Wv] is a block copy
    dense = tokens.t().contiguous().index_select(1, cell_rows.flatten())
    return dense.view(c, b, hv, wv).transpose(0, 1).contiguous()
