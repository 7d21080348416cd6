"""Packed execution with query-only counterfactual tokens: a cheap straight-through gradient.

A learning gate's straight-through gradient of a region is ``g . (coarse - fine)`` summed
over its cells (``to_dense``): it needs the output of the scale that did not run. Masked
execution gets it by running every absent token of both scales as a query. Here only the
informative half runs: for a random share of each image's coarse regions, the region's fine
tokens go through every layer as *query-only* tokens (they attend to the real packed tokens
of their image, are never keys, never attend to each other, get the same norms, FFN and
stochastic depth draw as their image's real tokens) without autograd, and at the output
they enter only as ``(1 - w) * fine`` with ``w = 1`` in value: the real outputs are packed
execution's, the fine stand-ins change only the gradient of ``w``. Other regions pass no task
gradient to the gate (as ``MLPGate(estimator='coarse_only')`` for fine ones).

The layer loop for it is ``msvit_mm.models.backbones.query_layer_forward``.
"""
from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from .attention import attend_packed, cumulative_seqlens, packed_qkv
from .drop_path import keep_mask
from .layout_protocol import ScaleTokens
from .packed_layout import PackedLayout
from .packing import upsample_regions
from .query_attention import query_attention


def check_query_share(share: float) -> float:
    """``share`` as a float, or a ValueError unless it is a number in (0, 1]."""
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise ValueError(f'query_share={share!r} must be a number in (0, 1] (the share of '
                         "each image's coarse regions whose fine tokens run as queries)")
    return float(share)


def sample_query_regions(coarse_mask: Tensor, share: float) -> Tensor:
    """A random subset of each image's coarse regions: [B, Hc, Wc] bool.

    Image i gets ``ceil(share * n_i)`` of its ``n_i`` coarse regions (at least one when it
    has one), uniformly without replacement, drawn with torch's global generator on the
    mask's device (``torch.rand``), so the run's seed governs it; ``share == 1``: every
    coarse region, no draw.
    """
    share = check_query_share(share)
    if share == 1.:
        return coarse_mask.clone()
    b = coarse_mask.shape[0]
    flat = coarse_mask.reshape(b, -1)
    keys = torch.rand(flat.shape, device=flat.device).masked_fill_(~flat, 2.)  # coarse first
    rank = keys.argsort(1).argsort(1)
    quota = torch.ceil(flat.sum(1).to(torch.float64) * share).long()
    return ((rank < quota[:, None]) & flat).reshape(coarse_mask.shape)


@dataclass(frozen=True)
class QueryPackedLayout:
    """Where the real packed tokens [T, C] and the query-only tokens [Q, C] sit.

    Attributes:
        packed: the real tokens' :class:`PackedLayout` (packed execution's, unchanged).
        query_seqlens: query tokens per image (Python ints).
        query_sample_index: [Q] long, image of every query token.
        query_rows: [B, Hv, Wv] long, row of each cell's query token, ``Q`` where none.
        query_mask: [B, Hc, Wc] bool, the sampled coarse regions.
        cu_query: [B + 1] int32 offsets of the query tokens (CUDA), or None.
    """
    packed: PackedLayout
    query_seqlens: List[int]
    query_sample_index: Tensor
    query_rows: Tensor
    query_mask: Tensor
    cu_query: Optional[Tensor] = None

    @classmethod
    def from_tokens(cls, tokens: ScaleTokens, query_active: Tensor, query_mask: Tensor,
                    prefix: Optional[Tensor] = None) -> Tuple[Tensor, 'QueryPackedLayout']:
        """Packed execution's tokens [T, C] and the layout of both token sets.

        Args:
            tokens: packed tokens, as :meth:`PackedLayout.from_tokens` takes them.
            query_active: [B, Hp * Wp] bool, fine cells that are query tokens (their
                tokens, image-major raster order, are the query tensor's rows).
            query_mask: [B, Hc, Wc] bool, the sampled regions.
            prefix: [B, P, C] always-present tokens (the cls token), or None.
        """
        packed, layout = PackedLayout.from_tokens(tokens, prefix)
        b, hv, wv = layout.fine_rows.shape
        counts = query_active.sum(1)
        total = int(counts.sum())
        rows = query_active.flatten().cumsum(0).view(b, -1) - 1
        rows = torch.where(query_active, rows, total)
        hp, wp = query_mask.shape[1] * tokens.scale, query_mask.shape[2] * tokens.scale
        query_seqlens = counts.tolist()
        return packed, cls(
            packed=layout, query_seqlens=query_seqlens,
            query_sample_index=torch.repeat_interleave(
                torch.arange(b, device=packed.device), counts, output_size=total),
            query_rows=rows.reshape(b, hp, wp)[:, :hv, :wv].contiguous(), query_mask=query_mask,
            cu_query=cumulative_seqlens(query_seqlens, packed.device) if packed.is_cuda else None)

    def attention(self, x: Tensor, queries: Tensor, mha: nn.MultiheadAttention,
                  dropout_p: float = 0.) -> Tuple[Tensor, Tensor]:
        """Packed self-attention of the real tokens x [T, C] (``packed_attention``'s values)
        and the query tokens' attention over them [Q, C] (no autograd, no dropout)."""
        p = self.packed
        qkv = packed_qkv(x, mha)
        out = attend_packed(qkv, mha, p.seqlens, dropout_p, p.cu_seqlens)
        return out, query_attention(queries, qkv, mha, p.seqlens, self.query_seqlens,
                                    p.cu_seqlens, self.cu_query)

    def drop_path(self, x: Tensor, queries: Tensor, drop_prob: float) -> Tuple[Tensor, Tensor]:
        """Stochastic depth of both branches with one draw per image (``packed_drop_path``'s
        draw and values for ``x``; a query token follows its image)."""
        if drop_prob == 0.:
            return x, queries
        mask = keep_mask(self.packed.num_images, drop_prob, x)
        scale = 1 - drop_prob
        return (x.div(scale) * mask[self.packed.sample_index].unsqueeze(-1),
                queries.div(scale) * mask[self.query_sample_index].unsqueeze(-1))

    def first_tokens(self, x: Tensor) -> Tensor:
        return self.packed.first_tokens(x)

    def to_map(self, x: Tensor, queries: Tensor) -> Tensor:
        """[B, C, Hv, Wv], packed execution's values; while the decisions need a gradient,
        ``w * coarse + (1 - w) * fine`` per cell as packed's (the absent scale read as zero),
        where on sampled coarse cells ``fine`` is the cell's query token (no gradient) and
        elsewhere ``w`` passes no gradient. ``w`` is 1 (or 0) up to an ulp (the
        straight-through value ``hard + soft - soft``), so sampled cells differ from packed
        execution's by that ulp times the fine token."""
        p = self.packed
        if not (torch.is_grad_enabled() and p.coarse_weight.requires_grad):
            return p.to_map(x)
        b, hv, wv = p.fine_rows.shape
        c = x.shape[-1]
        padded = torch.cat([x, x.new_zeros(1, c)])  # row T: the absent token
        coarse, fine = padded[p.coarse_rows], padded[p.fine_rows]  # B, Hv, Wv, C
        fine_q = torch.cat([queries, queries.new_zeros(1, c)])[self.query_rows].detach()
        w = upsample_regions(p.coarse_weight, p.scale)[:, :hv, :wv, None].to(x.dtype)
        sampled = (self.query_rows < queries.shape[0]).unsqueeze(-1)
        w = torch.where(sampled, w, w.detach())
        dense = w * coarse + (1 - w) * torch.where(sampled, fine_q, fine)
        return dense.permute(0, 3, 1, 2).contiguous()


def fine_query_cells(query_mask: Tensor, scale: int, fine_in_bounds: Tensor) -> Tensor:
    """[B, Hp * Wp] bool: the fine cells (inside the image) of the regions in ``query_mask``."""
    b = query_mask.shape[0]
    return upsample_regions(query_mask, scale).reshape(b, -1) & fine_in_bounds


__all__ = ['QueryPackedLayout', 'check_query_share', 'fine_query_cells',
           'sample_query_regions']
