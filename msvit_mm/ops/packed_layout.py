"""MSViT's packed layout: only the tokens that exist, concatenated over the batch, [T, C]."""
from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from .attention import cumulative_seqlens, packed_attention
from .drop_path import packed_drop_path
from .layout_protocol import ScaleTokens
from .packing import region_mean_cells, upsample_regions

COUNTERFACTUALS = ('zero', 'fine_mean')


@dataclass(frozen=True)
class PackedLayout:
    """Where the tokens of a packed mixed-scale batch [T, C] sit; made once per forward by
    :meth:`from_tokens`.

    Attributes:
        seqlens: tokens per image (Python ints, prefix included): the forward's one host sync.
        sample_index: [T] long, image of every packed token.
        first_rows: [B] long, packed row of each image's first token (its cls token if any).
        coarse_rows: [B, Hv, Wv] long, packed row of the coarse token covering each cell of
            the image's fine grid, ``T`` (one past the last row) where the region is fine.
        fine_rows: [B, Hv, Wv] long, packed row of each cell's fine token, ``T`` where none.
        cell_rows: [B, Hv, Wv] long, the packed row each cell reads: its coarse token's where
            the region is coarse, its fine token's otherwise.
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
    cell_rows: Tensor
    coarse_weight: Tensor
    scale: int
    cu_seqlens: Optional[Tensor] = None
    counterfactual: str = 'zero'

    def __post_init__(self) -> None:
        if self.counterfactual not in COUNTERFACTUALS:
            raise ValueError(f'counterfactual={self.counterfactual!r} is not one of '
                             f'{COUNTERFACTUALS}')

    @classmethod
    def from_tokens(cls, tokens: ScaleTokens, prefix: Optional[Tensor] = None,
                    counterfactual: str = 'zero') -> Tuple[Tensor, 'PackedLayout']:
        """The packed form of ``[prefix | coarse | fine]``, [T, C], and its layout, without
        building the dense sequence.

        The tokens of ``pack`` of the masked sequence (image-major, then sequence order),
        put in place by one ``index_copy``.

        Args:
            tokens: packed ``coarse`` [Tc, C] and ``fine`` [Tf, C] (the active tokens,
                ``coarse_dense[coarse_active]``), with their activity and decisions.
            prefix: [B, P, C] always-present tokens (the cls token), or None.
            counterfactual: the gate gradient's stand-in for the absent scale (see the class).

        Returns:
            tokens [T, C] (T = B * P + Tc + Tf) and their :class:`PackedLayout`.
        """
        coarse_active, scale = tokens.coarse_active, tokens.scale
        b, nc = coarse_active.shape
        p = 0 if prefix is None else prefix.shape[1]
        active = torch.cat([coarse_active.new_ones(b, p), coarse_active, tokens.fine_active], 1)
        total = b * p + tokens.coarse.shape[0] + tokens.fine.shape[0]
        rows = active.flatten().cumsum(0).view(b, -1) - 1
        rows = torch.where(active, rows, total)  # B, N: packed row, T where absent
        coarse_rows, fine_rows = rows[:, p:p + nc], rows[:, p + nc:]
        parts = [tokens.coarse, tokens.fine]
        dst = [coarse_rows[coarse_active], fine_rows[tokens.fine_active]]
        if prefix is not None:
            parts.insert(0, prefix.flatten(0, 1))
            dst.insert(0, rows[:, :p].flatten())
        src = torch.cat(parts)
        packed = src.new_empty(src.shape).index_copy(0, torch.cat(dst), src)
        counts = active.sum(1)
        seqlens = counts.tolist()
        sample_index = torch.repeat_interleave(torch.arange(b, device=packed.device), counts,
                                               output_size=total)
        weight = tokens.coarse_weight
        (hc, wc), (hv, wv) = weight.shape[1:], tokens.valid_hw
        coarse_map = upsample_regions(coarse_rows.reshape(b, hc, wc), scale)[:, :hv, :wv]
        fine_map = fine_rows.reshape(b, hc * scale, wc * scale)[:, :hv, :wv]
        is_coarse = upsample_regions(weight, scale)[:, :hv, :wv] > 0.5
        return packed, cls(
            seqlens=seqlens, sample_index=sample_index, first_rows=counts.cumsum(0) - counts,
            coarse_rows=coarse_map.contiguous(), fine_rows=fine_map.contiguous(),
            cell_rows=torch.where(is_coarse, coarse_map, fine_map),
            coarse_weight=weight, scale=scale,
            cu_seqlens=cumulative_seqlens(seqlens, packed.device) if packed.is_cuda else None,
            counterfactual=counterfactual)

    @property
    def num_images(self) -> int:
        return len(self.seqlens)

    def attention(self, x: Tensor, mha: nn.MultiheadAttention, dropout_p: float = 0.) -> Tensor:
        return packed_attention(x, mha, self.seqlens, dropout_p, self.cu_seqlens)

    def drop_path(self, x: Tensor, drop_prob: float) -> Tensor:
        return packed_drop_path(x, drop_prob, self.sample_index, self.num_images)

    def first_tokens(self, x: Tensor) -> Tensor:
        return x[self.first_rows]

    def to_map(self, x: Tensor) -> Tensor:
        """Packed tokens [T, C] -> [B, C, Hv, Wv], one gather.

        Same values as ``to_dense`` of the unpacked tokens cropped to (Hv, Wv). When
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
