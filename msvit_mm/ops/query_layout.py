"""Packed execution with query-only counterfactual tokens: cheap straight-through gradients.

A learning gate's straight-through gradient of a region is ``g . (coarse - fine)`` summed
over its cells (``to_dense``): it needs the output of the scale that did not run. Masked
execution gets it by running every absent token of both scales through every layer as a
query over the tokens that exist. The absent tokens' own outputs are read only as
``(1 - w) * fine`` with ``w = 1`` (coarse regions) or ``w * coarse`` with ``w = 0`` (fine
ones): they change the gradient of ``w`` and nothing else. So they can run as *query-only*
tokens without autograd: they attend to the real packed tokens of their image, are never
keys, never attend to each other, and get the layers' norms, FFN and their image's
stochastic depth draw; nothing they compute is saved for backward. The real tokens run
packed execution's computation.

Two sets of query tokens (:class:`QueryTokens`, chosen by the tokenizer):

- ``execution='packed_query'``: the fine tokens of a random share of each image's coarse
  regions (:func:`sample_query_regions`), the informative half of the signal; the other
  regions pass no task gradient to the gate (as ``MLPGate(estimator='coarse_only')`` for
  fine ones).
- ``execution='masked_query'``: every absent token of both scales: masked execution's
  values and gradients without its dense N x N attention.

Either set can be limited to a random share of the batch's images
(:func:`sample_query_images`): the other images run packed execution alone and pass no task
gradient to the gate; the sampled images' gate gradient is scaled by B / (images sampled),
so that it estimates the whole batch's without bias.

The layer loop for them is ``msvit_mm.models.backbones.query_layer_forward``.
"""
import math
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


def check_query_share(share: float, name: str = 'query_share',
                      what: str = "the share of each image's coarse regions whose fine "
                                  'tokens run as queries') -> float:
    """``share`` as a float, or a ValueError naming ``name`` unless it is a number in (0, 1]."""
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise ValueError(f'{name}={share!r} must be a number in (0, 1] ({what})')
    return float(share)


def quota(share: float, count: int) -> int:
    """Regions sampled from ``count`` coarse ones: ``ceil(share * count)``, at least one
    when ``count >= 1`` (:func:`sample_query_regions`' count, for one image)."""
    return max(1, math.ceil(share * count - 1e-9)) if count else 0


def sample_query_regions(coarse_mask: Tensor, share: float) -> Tensor:
    """A random subset of each image's coarse regions: [B, Hc, Wc] bool.

    Image i gets ``quota(share, n_i)`` (``ceil(share * n_i)``) of its ``n_i`` coarse regions (at least one when it
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
    count = flat.sum(1)
    # ceil(share * n) without float noise (0.3 * 10 is 3.0000000000000004), >= 1 when n >= 1
    quota = torch.ceil(count.to(torch.float64) * share - 1e-9).long().clamp(min=1)
    quota = torch.where(count > 0, quota, 0)
    return ((rank < quota[:, None]) & flat).reshape(coarse_mask.shape)


def check_image_share(share: float) -> float:
    """``query_image_share`` as a float, or a ValueError unless it is a number in (0, 1]."""
    return check_query_share(share, 'query_image_share',
                             "the share of each batch's images that get query tokens")


def sample_query_images(batch: int, share: float, device=None) -> Tensor:
    """A random ``quota(share, batch)`` of the batch's images: [B] bool.

    Uniformly without replacement, drawn with torch's global generator (``torch.rand``; the
    run's seed governs it); when every image is picked (``share == 1``, or a quota of the
    whole batch): every image, no draw.
    """
    count = quota(check_image_share(share), batch)
    if count >= batch:
        return torch.ones(batch, dtype=torch.bool, device=device)
    rank = torch.rand(batch, device=device).argsort().argsort()
    return rank < count


@dataclass(frozen=True)
class QueryTokens:
    """The query-only tokens of a batch: stand-ins for the scale that did not run.

    Attributes:
        fine: [Qf, C] fine tokens of cells whose region is coarse (image-major raster order).
        fine_active: [B, Hp * Wp] bool, the cells of ``fine``.
        coarse: [Qc, C] coarse tokens of regions that are fine (image-major raster order).
        coarse_active: [B, Hc * Wc] bool, the regions of ``coarse``.
        sampled: [B, Hc, Wc] bool, the regions that have a stand-in: their gradient to the
            decisions is kept, every other region's is dropped.
        gradient_scale: factor on the sampled regions' gradient to the decisions (B /
            images sampled when only a share of the images is; values are unchanged).
    """
    fine: Tensor
    fine_active: Tensor
    coarse: Tensor
    coarse_active: Tensor
    sampled: Tensor
    gradient_scale: float = 1.


@dataclass(frozen=True)
class QueryPackedLayout:
    """Where the real packed tokens [T, C] and the query-only tokens [Q, C] sit.

    The query tensor holds each image's query tokens together (image 0's first), in the
    order of the masked sequence ``[coarse | fine]``.

    Attributes:
        packed: the real tokens' :class:`PackedLayout` (packed execution's, unchanged).
        query_seqlens: query tokens per image (Python ints).
        query_sample_index: [Q] long, image of every query token.
        coarse_query_rows: [B, Hv, Wv] long, row of the query token standing in for each
            cell's coarse token, ``Q`` where none.
        fine_query_rows: [B, Hv, Wv] long, the same for each cell's fine token.
        sampled: [B, Hc, Wc] bool, :attr:`QueryTokens.sampled`.
        cu_query: [B + 1] int32 offsets of the query tokens (CUDA), or None.
        gradient_scale: :attr:`QueryTokens.gradient_scale`.
    """
    packed: PackedLayout
    query_seqlens: List[int]
    query_sample_index: Tensor
    coarse_query_rows: Tensor
    fine_query_rows: Tensor
    sampled: Tensor
    cu_query: Optional[Tensor] = None
    gradient_scale: float = 1.

    @classmethod
    def from_tokens(cls, tokens: ScaleTokens, queries: QueryTokens,
                    prefix: Optional[Tensor] = None
                    ) -> Tuple[Tensor, Tensor, 'QueryPackedLayout']:
        """Packed execution's tokens [T, C], the query tokens [Q, C] and their layout.

        Args:
            tokens: packed tokens, as :meth:`PackedLayout.from_tokens` takes them.
            queries: the query-only tokens.
            prefix: [B, P, C] always-present tokens (the cls token), or None.
        """
        packed, layout = PackedLayout.from_tokens(tokens, prefix)
        b, hv, wv = layout.fine_rows.shape
        (hc, wc), scale = queries.sampled.shape[1:], tokens.scale
        nc = hc * wc
        active = torch.cat([queries.coarse_active, queries.fine_active], 1)
        counts = active.sum(1)
        total = queries.coarse.shape[0] + queries.fine.shape[0]
        rows = active.flatten().cumsum(0).view(b, -1) - 1
        rows = torch.where(active, rows, total)
        coarse_rows, fine_rows = rows[:, :nc], rows[:, nc:]
        src = torch.cat([queries.coarse, queries.fine])
        dst = torch.cat([coarse_rows[queries.coarse_active], fine_rows[queries.fine_active]])
        query = src.new_empty(src.shape).index_copy(0, dst, src)
        query_seqlens = counts.tolist()
        coarse_map = upsample_regions(coarse_rows.reshape(b, hc, wc), scale)[:, :hv, :wv]
        fine_map = fine_rows.reshape(b, hc * scale, wc * scale)[:, :hv, :wv]
        return packed, query, cls(
            packed=layout, query_seqlens=query_seqlens,
            query_sample_index=torch.repeat_interleave(
                torch.arange(b, device=packed.device), counts, output_size=total),
            coarse_query_rows=coarse_map.contiguous(), fine_query_rows=fine_map.contiguous(),
            sampled=queries.sampled,
            cu_query=cumulative_seqlens(query_seqlens, packed.device) if packed.is_cuda else None,
            gradient_scale=queries.gradient_scale)

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
        ``w * coarse + (1 - w) * fine`` per cell as packed's (an absent scale read as
        zero), where a query token stands in for the absent scale (no gradient) in sampled
        regions, and elsewhere ``w`` passes no gradient. ``w`` is 1 (or 0) up to an ulp (the
        straight-through value ``hard + soft - soft``), so sampled cells differ from packed
        execution's by that ulp times the stand-in."""
        p = self.packed
        if not (torch.is_grad_enabled() and p.coarse_weight.requires_grad):
            return p.to_map(x)
        b, hv, wv = p.fine_rows.shape
        c, q_total = x.shape[-1], queries.shape[0]
        padded = torch.cat([x, x.new_zeros(1, c)])  # row T: the absent token
        stand_in = torch.cat([queries, queries.new_zeros(1, c)]).detach()
        coarse_q = (self.coarse_query_rows < q_total).unsqueeze(-1)
        fine_q = (self.fine_query_rows < q_total).unsqueeze(-1)
        coarse = torch.where(coarse_q, stand_in[self.coarse_query_rows], padded[p.coarse_rows])
        fine = torch.where(fine_q, stand_in[self.fine_query_rows], padded[p.fine_rows])
        w = upsample_regions(p.coarse_weight, p.scale)[:, :hv, :wv, None].to(x.dtype)
        keep = upsample_regions(self.sampled, p.scale)[:, :hv, :wv, None]
        fixed = w.detach()
        if self.gradient_scale != 1.:  # the same value, the gradient times the scale
            w = fixed + (w - fixed) * self.gradient_scale
        w = torch.where(keep, w, fixed)
        dense = w * coarse + (1 - w) * fine
        return dense.permute(0, 3, 1, 2).contiguous()


def fine_query_cells(query_mask: Tensor, scale: int, fine_in_bounds: Tensor) -> Tensor:
    """[B, Hp * Wp] bool: the fine cells (inside the image) of the regions in ``query_mask``."""
    b = query_mask.shape[0]
    return upsample_regions(query_mask, scale).reshape(b, -1) & fine_in_bounds


__all__ = ['QueryPackedLayout', 'QueryTokens', 'check_image_share', 'check_query_share', 'fine_query_cells',
           'quota', 'sample_query_images', 'sample_query_regions']
