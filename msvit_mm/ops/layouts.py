"""Token layouts: what attention needs and how dense maps come back, one per execution form.

The encoder layers run on tokens in one of three layouts with one interface, so one layer
loop (``msvit_mm.models.backbones.layer_forward.run_layers``) serves them all:

- :class:`GridLayout`: a plain ViT sequence [B, P + H * W, C] (mmseg's ``VisionTransformer``).
- :class:`MaskedLayout`: MSViT's masked form [B, P + Nc + Nf, C], every token of both scales,
  attention masked to the tokens that exist (:func:`masked_sequence`).
- :class:`PackedLayout`: MSViT's packed form [T, C], only the tokens that exist,
  concatenated over the batch (:func:`packed_sequence`).

Each layout has:

- ``attention(x, mha, dropout_p)``: self-attention within each image, ``x``'s shape.
- ``sample_index``: [T] long image of every token (packed; with ``num_images``, B), or None
  (batched: dim 0 is the image).
- ``to_map(x)``: [B, C, Hv, Wv] map on the image's own fine grid, coarse tokens repeated
  over their cells.
- ``first_tokens(x)``: [B, C], each image's first token (its cls token, if any).

P prefix (cls) tokens come first in every image. Pure tensor functions, no mmseg import.
"""
from dataclasses import dataclass
from typing import ClassVar, List, Optional, Tuple

import torch
from torch import Tensor, nn

from .attention import cumulative_seqlens, masked_attention, packed_attention
from .packing import region_mean_cells, to_dense, upsample_regions

COUNTERFACTUALS = ('zero', 'fine_mean')


@dataclass
class GridLayout:
    """A plain ViT sequence [B, P + H * W, C]: prefix tokens, then the patch grid (raster)."""
    num_prefix: int
    hw: Tuple[int, int]
    sample_index: ClassVar[None] = None

    def attention(self, x: Tensor, mha: nn.MultiheadAttention, dropout_p: float = 0.) -> Tensor:
        return masked_attention(x, mha, None, dropout_p)

    def to_map(self, x: Tensor) -> Tensor:
        b, _, c = x.shape
        grid = x[:, self.num_prefix:].reshape(b, self.hw[0], self.hw[1], c)
        return grid.permute(0, 3, 1, 2).contiguous()

    def first_tokens(self, x: Tensor) -> Tensor:
        return x[:, 0]


@dataclass
class MaskedLayout(GridLayout):
    """MSViT's masked form [B, P + Nc + Nf, C]: ``[prefix | every coarse region | every fine
    cell]`` (raster order each), attention masked to the tokens that exist.

    Attributes (beyond :class:`GridLayout`'s; ``hw`` is the image's own fine grid (Hv, Wv)):
        key_valid: [B, N] bool, tokens that exist; None when all do.
        coarse_weight: [B, Hc, Wc] float decisions (straight-through), values in {0, 1}.
        scale: fine cells per coarse side.
    """
    key_valid: Optional[Tensor] = None
    coarse_weight: Optional[Tensor] = None
    scale: int = 2

    def attention(self, x: Tensor, mha: nn.MultiheadAttention, dropout_p: float = 0.) -> Tensor:
        return masked_attention(x, mha, self.key_valid, dropout_p)

    def to_map(self, x: Tensor) -> Tensor:
        p, (hc, wc) = self.num_prefix, self.coarse_weight.shape[1:]
        nc = hc * wc
        dense = to_dense(x[:, p:p + nc], x[:, p + nc:], self.coarse_weight, self.scale)
        return dense[:, :, :self.hw[0], :self.hw[1]].contiguous()


@dataclass
class PackedLayout:
    """Where the tokens of a packed mixed-scale batch [T, C] sit; made once per forward.

    Attributes:
        seqlens: tokens per image (Python ints, prefix included): the forward's one host sync.
        sample_index: [T] long, image of every packed token.
        first_rows: [B] long, packed row of each image's first token (its cls token if any).
        coarse_rows: [B, Hv, Wv] long, packed row of the coarse token covering each cell of
            the image's fine grid, ``T`` (one past the last row) where the region is fine.
        fine_rows: [B, Hv, Wv] long, packed row of each cell's fine token, ``T`` where none.
        coarse_weight: [B, Hc, Wc] float decisions (straight-through), values in {0, 1}.
        scale: fine cells per coarse side.
        cu_seqlens: [B + 1] int32 offsets for the GPU variable-length kernel (CUDA), or None.
        counterfactual: what stands in for the scale that did not run, in the gradient of
            ``coarse_weight`` (values never change): 'zero' (the absent tokens read as zeros)
            or 'fine_mean' (a fine region's coarse alternative is the mean of its fine
            outputs; a coarse region's fine alternative is its coarse output, no gradient).
    """
    seqlens: List[int]
    sample_index: Tensor
    first_rows: Tensor
    coarse_rows: Tensor
    fine_rows: Tensor
    coarse_weight: Tensor
    scale: int
    cu_seqlens: Optional[Tensor] = None
    counterfactual: str = 'zero'

    def __post_init__(self) -> None:
        if self.counterfactual not in COUNTERFACTUALS:
            raise ValueError(f'counterfactual={self.counterfactual!r} is not one of '
                             f'{COUNTERFACTUALS}')
        _, hv, wv = self.fine_rows.shape
        w = upsample_regions(self.coarse_weight, self.scale)[:, :hv, :wv]
        # the packed row each fine cell reads: its coarse token's or its fine token's
        self.cell_rows = torch.where(w > 0.5, self.coarse_rows, self.fine_rows)

    @property
    def num_images(self) -> int:
        return len(self.seqlens)

    def attention(self, x: Tensor, mha: nn.MultiheadAttention, dropout_p: float = 0.) -> Tensor:
        return packed_attention(x, mha, self.seqlens, dropout_p, self.cu_seqlens)

    def first_tokens(self, x: Tensor) -> Tensor:
        return x[self.first_rows]

    def to_map(self, x: Tensor) -> Tensor:
        """Packed tokens [T, C] -> [B, C, Hv, Wv], one gather.

        Same values as ``to_dense`` of ``unpack(x, active)`` cropped to (Hv, Wv). When
        ``coarse_weight`` needs a gradient (learned gate, training) it is kept as in
        ``to_dense``: ``w * coarse + (1 - w) * fine``, the absent scale filled in as
        ``counterfactual`` says. With 'fine_mean', ``dL/dw`` of a fine region is
        ``sum over its cells of g . (mean - fine)``: the first-order change of the loss if
        the region's outputs were averaged; the tokens' gradients are the same as 'zero'.
        """
        b, hv, wv = self.fine_rows.shape
        c = x.shape[-1]
        if torch.is_grad_enabled() and self.coarse_weight.requires_grad:
            padded = torch.cat([x, x.new_zeros(1, c)])  # row T: the absent token
            w = upsample_regions(self.coarse_weight, self.scale)[:, :hv, :wv, None].to(x.dtype)
            coarse, fine = padded[self.coarse_rows], padded[self.fine_rows]  # B, Hv, Wv, C
            if self.counterfactual == 'fine_mean':
                keep = w.detach() > 0.5
                coarse, fine = (torch.where(keep, coarse, region_mean_cells(fine, self.scale)),
                                torch.where(keep, coarse, fine))
            dense = w * coarse + (1 - w) * fine
            return dense.permute(0, 3, 1, 2).contiguous()
        # gather columns of [C, T]: the map comes out channel-first (cheaper than gathering
        # rows of [T, C] and permuting the map); [C, B, Hv, Wv] -> [B, C, Hv, Wv] is a block copy
        dense = x.t().contiguous().index_select(1, self.cell_rows.flatten())
        return dense.view(c, b, hv, wv).transpose(0, 1).contiguous()


def masked_sequence(coarse: Tensor, fine: Tensor, coarse_active: Tensor, fine_active: Tensor,
                    coarse_weight: Tensor, scale: int, valid_hw: Tuple[int, int],
                    prefix: Optional[Tensor] = None) -> Tuple[Tensor, MaskedLayout]:
    """The masked form: ``[prefix | coarse | fine]`` [B, P + Nc + Nf, C] and its layout.

    Args:
        coarse: [B, Hc * Wc, C] every coarse token. fine: [B, Hp * Wp, C] every fine token,
            Hp = scale * Hc.
        coarse_active: [B, Hc * Wc] bool. fine_active: [B, Hp * Wp] bool.
        coarse_weight: [B, Hc, Wc] float decisions (straight-through).
        scale: fine cells per coarse side. valid_hw: (Hv, Wv), the image's own fine grid.
        prefix: [B, P, C] always-active tokens (the cls token), or None.
    """
    parts, act = [coarse, fine], [coarse_active, fine_active]
    if prefix is not None:
        parts.insert(0, prefix)
        act.insert(0, coarse_active.new_ones(prefix.shape[:2]))
    active = torch.cat(act, 1)
    layout = MaskedLayout(num_prefix=len(parts) - 2, hw=tuple(valid_hw),
                          key_valid=None if bool(active.all()) else active,
                          coarse_weight=coarse_weight, scale=scale)
    return torch.cat(parts, 1), layout


def packed_sequence(coarse: Tensor, fine: Tensor, coarse_active: Tensor, fine_active: Tensor,
                    coarse_weight: Tensor, scale: int, valid_hw: Tuple[int, int],
                    prefix: Optional[Tensor] = None, counterfactual: str = 'zero'
                    ) -> Tuple[Tensor, PackedLayout]:
    """The packed form: the tokens that exist of ``[prefix | coarse | fine]``, [T, C], and
    their layout, without building the dense sequence.

    The tokens of ``pack(*masked_sequence(...))`` (image-major, then sequence order), put in
    place by one ``index_copy``.

    Args:
        coarse: [Tc, C] active coarse tokens, ``coarse_dense[coarse_active]``.
        fine: [Tf, C] active fine tokens, ``fine_dense[fine_active]``.
        counterfactual: the gate gradient's stand-in for the absent scale (:class:`PackedLayout`).
        Others: as :func:`masked_sequence`.

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
    (hc, wc), (hv, wv) = coarse_weight.shape[1:], valid_hw
    coarse_map = upsample_regions(coarse_rows.reshape(b, hc, wc), scale)[:, :hv, :wv]
    fine_map = fine_rows.reshape(b, hc * scale, wc * scale)[:, :hv, :wv]
    return tokens, PackedLayout(
        seqlens=seqlens, sample_index=sample_index, first_rows=counts.cumsum(0) - counts,
        coarse_rows=coarse_map.contiguous(), fine_rows=fine_map.contiguous(),
        coarse_weight=coarse_weight, scale=scale,
        cu_seqlens=cumulative_seqlens(seqlens, tokens.device) if tokens.is_cuda else None,
        counterfactual=counterfactual)
