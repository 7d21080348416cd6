"""MixedScaleTokenizer: image -> MixedScaleTokens, with the gate inside."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...ops.packing import token_activity
from ...ops.query_layout import (QueryTokens, fine_query_cells, quota, sample_query_images,
                                 sample_query_regions)
from ...ops.patchify import (gather_patches, grid_size, in_bounds_mask, map_to_seq,
                             pad_replicate, pad_to_multiple, pool_cells)
from ..gates import build_gate, refuse_removed
from .coarse_aggregation import (SubPatchAggregation, check_aggregation, gathered_sub_tokens,
                                 region_sub_tokens)
from .mixed_scale_tokens import QUERY_EXECUTIONS, MixedScaleTokens


def check_scales(patch_size: int, coarse_patch_size: int) -> int:
    """Return the scale ``coarse_patch_size // patch_size`` (fine cells per coarse side), or
    raise if it is not a power of two >= 2."""
    scale = coarse_patch_size // patch_size if patch_size > 0 else 0
    if scale < 2 or scale * patch_size != coarse_patch_size or scale & (scale - 1):
        raise ValueError(
            f'coarse_patch_size={coarse_patch_size} must be a power-of-two multiple (>= 2x) '
            f'of patch_size={patch_size}')
    return scale


@MODELS.register_module()
class MixedScaleTokenizer(BaseModule):
    """Split an image into coarse regions; the gate keeps each one coarse or makes it fine.

    Fine tokens are the shared patch embedding of ``patch_size`` patches; a coarse token is
    the same embedding of the region average-pooled by ``scale`` (fine cells per coarse side,
    ``coarse_patch_size / patch_size``), so a ``coarse_patch_size`` region becomes one
    ``patch_size`` patch. Coarse position embeddings are the
    ``scale x scale`` average of the fine ones. Image sides that are not multiples of
    ``coarse_patch_size`` are zero-padded bottom/right; fine cells outside the image's own
    fine grid (ceil(H / patch_size)) never become tokens, so all-fine equals mmseg's ViT.

    Args:
        in_channels: image channels.
        patch_size: fine patch size S_f.
        coarse_patch_size: coarse region size S_c = 2^k S_f.
        gate: the gate's config, ``dict(type=...)`` naming a registered :class:`BaseGate`
            (``'MLPGate'``, ``'FixedGate'``, ``'RandomGate'``, ``'PixelStatGate'``,
            ``'ResidualRuleGate'``) with its
            own arguments; ``in_channels`` and ``region_size`` (= ``coarse_patch_size``) are
            passed, and a config that sets other values is refused. None: ``MLPGate()``.
        coarse_aggregation: None (the default: a coarse token is the pooled region's
            embedding, as above) or ``'subpatch_linear'``: APT's coarse token, that embedding
            plus a zero-initialized linear map of the concatenated embeddings of the
            region's ``scale^2`` fine patches (:class:`SubPatchAggregation`, parameters
            ``aggregation.proj.*``; exact zeros at initialization). Fine tokens unchanged.
        embed_dims: the token width; needed with ``coarse_aggregation``.
    """

    def __init__(self, in_channels: int = 3, patch_size: int = 16, coarse_patch_size: int = 32,
                 gate: Optional[dict] = None, coarse_aggregation: Optional[str] = None,
                 embed_dims: Optional[int] = None, init_cfg=None, **removed):
        super().__init__(init_cfg=init_cfg)
        refuse_removed('MixedScaleTokenizer', removed)
        self.scale = check_scales(patch_size, coarse_patch_size)
        self.in_channels = in_channels
        self.patch_size = patch_size
        self.coarse_patch_size = coarse_patch_size
        self.gate = build_gate(gate, in_channels, coarse_patch_size)
        check_aggregation(coarse_aggregation, embed_dims)
        self.coarse_aggregation = coarse_aggregation
        if coarse_aggregation is not None:
            self.aggregation = SubPatchAggregation(embed_dims, self.scale)

    @property
    def gate_threshold(self) -> Optional[float]:
        """The gate's inference threshold (``MLPGate.threshold``); None for a gate without one."""
        return getattr(self.gate, 'threshold', None)

    @gate_threshold.setter
    def gate_threshold(self, value: float) -> None:
        if not hasattr(self.gate, 'threshold'):
            raise AttributeError(f'{type(self.gate).__name__} has no threshold (only a gate '
                                 'that thresholds a probability, MLPGate, has one)')
        self.gate.threshold = value  # the gate checks it

    def forward(self, x: Tensor, patch_embed: nn.Module, fine_pos: Tensor,
                coarse_mask: Optional[Tensor] = None, execution: str = 'masked',
                query_share: float = 1., query_image_share: float = 1.) -> MixedScaleTokens:
        """Tokenize a batch.

        Args:
            x: [B, in_channels, H, W] images.
            patch_embed: the backbone's patch embedding, [B, C_in, h, w] -> ([B, h*w/S_f^2, C], hw).
            fine_pos: [1, C, Hv, Wv] fine position embeddings on the image's fine grid,
                (Hv, Wv) = ceil((H, W) / patch_size).
            coarse_mask: optional [B, Hc, Wc] bool decisions that replace the gate's (for
                analysis, benchmarks and tests); a learned gate still runs and its
                probabilities carry the straight-through gradient.
            execution: 'packed': embed only the tokens that exist, after the gate has
                decided; 'masked': embed every fine patch and every coarse region (see
                :class:`MixedScaleTokens`); 'packed_query': 'packed', plus the fine tokens
                of ``ceil(query_share * n)`` random coarse regions of each image (n coarse
                ones; ``msvit_mm.ops.query_layout.sample_query_regions``) as query-only
                tokens; 'masked_query': 'packed', plus every absent token of both scales as
                a query-only token (query tokens: no autograd).
            query_share: 'packed_query' only, in (0, 1].
            query_image_share: both query forms: the share of the batch's images that get
                query tokens (``msvit_mm.ops.query_layout.sample_query_images``; the others
                pass no task gradient to the gate, the sampled ones' is scaled by
                B / sampled), in (0, 1].
        """
        valid_hw = grid_size(x.shape[-2:], self.patch_size)
        if tuple(fine_pos.shape[-2:]) != valid_hw:
            raise ValueError(f'fine_pos grid {tuple(fine_pos.shape[-2:])} != image grid {valid_hw}')
        x = pad_to_multiple(x, self.coarse_patch_size)
        logits, mask, weight = self.gate(x, coarse_mask, patch_embed=patch_embed)
        padded_hw = grid_size(x.shape[-2:], self.patch_size)
        in_bounds = in_bounds_mask(padded_hw, valid_hw, x.device)
        coarse_active, fine_active = token_activity(mask, self.scale, in_bounds)
        fine_pos = pad_replicate(fine_pos, padded_hw)  # 1, C, Hp, Wp
        coarse_pos = map_to_seq(pool_cells(fine_pos, self.scale))[0]  # Hc*Wc, C
        fine_pos = map_to_seq(fine_pos)[0]  # Hp*Wp, C
        queries = None
        if execution in ('packed',) + QUERY_EXECUTIONS:
            coarse = self._embed_coarse(x, patch_embed, coarse_active, coarse_pos)
            fine = self._embed_active(x, patch_embed, fine_active, self.patch_size, fine_pos)
        else:
            fine_raw = patch_embed(x)[0]  # B, Hp*Wp, C
            fine = fine_raw + fine_pos
            coarse = patch_embed(pool_cells(x, self.scale))[0] + coarse_pos  # B, Hc*Wc, C
            if self.coarse_aggregation is not None:
                coarse = coarse + self.aggregation(
                    region_sub_tokens(fine_raw, padded_hw, self.scale))
        if execution in QUERY_EXECUTIONS:
            queries = self._queries(x, patch_embed, mask, in_bounds, (coarse_pos, fine_pos),
                                    execution == 'masked_query', query_share, query_image_share)
        return MixedScaleTokens(
            coarse=coarse, fine=fine, coarse_mask=mask, coarse_weight=weight,
            coarse_active=coarse_active, fine_active=fine_active, gate_logits=logits,
            gate_probs=torch.sigmoid(logits), scale=self.scale, valid_hw=valid_hw,
            execution=execution, queries=queries)

    @torch.no_grad()
    def _queries(self, x: Tensor, patch_embed: nn.Module, mask: Tensor, in_bounds: Tensor,
                 pos: tuple, every: bool, share: float, image_share: float) -> QueryTokens:
        """The query-only tokens: the absent tokens of both scales (``every``), or the fine
        tokens of a random ``share`` of each image's coarse regions; in a random
        ``image_share`` of the images only."""
        images = sample_query_images(mask.shape[0], image_share, mask.device)
        fine_regions = mask if every else sample_query_regions(mask, share)
        fine_regions = fine_regions & images[:, None, None]
        fine_active = fine_query_cells(fine_regions, self.scale, in_bounds)
        fine = self._embed_active(x, patch_embed, fine_active, self.patch_size, pos[1])
        coarse_active = ~mask.flatten(1) if every else torch.zeros_like(mask.flatten(1))
        coarse_active = coarse_active & images[:, None]
        coarse = (self._embed_coarse(x, patch_embed, coarse_active, pos[0])
                  if every else fine.new_zeros(0, fine.shape[1]))
        sampled = (torch.ones_like(mask) & images[:, None, None]) if every else fine_regions
        return QueryTokens(fine=fine, fine_active=fine_active, coarse=coarse,
                           coarse_active=coarse_active, sampled=sampled,
                           gradient_scale=mask.shape[0] / quota(image_share, mask.shape[0]))

    def _embed_coarse(self, x: Tensor, patch_embed: nn.Module, active: Tensor,
                      pos: Tensor) -> Tensor:
        """The active coarse tokens [T, C] (``_embed_active``), plus the sub-patch
        aggregation's residual with ``coarse_aggregation``."""
        coarse = self._embed_active(x, patch_embed, active, self.coarse_patch_size, pos)
        if self.coarse_aggregation is None:
            return coarse
        if is_patchify(patch_embed.projection, self.patch_size):
            sub = gathered_sub_tokens(x, patch_embed, active, self.patch_size, self.scale)
        else:  # a projection that overlaps patches: the whole image's embedding
            hw = grid_size(x.shape[-2:], self.patch_size)
            sub = region_sub_tokens(patch_embed(x)[0], hw, self.scale)[active]
        return coarse + self.aggregation(sub)

    def _embed_active(self, x: Tensor, patch_embed: nn.Module, active: Tensor, size: int,
                      pos: Tensor) -> Tensor:
        """Embed the active ``size`` patches of ``x`` [B, C_in, H, W] (active [B, n]) -> [T, C].

        A ``size`` patch is average-pooled to ``patch_size`` first (a coarse region); ``pos``
        [n, C] are the position embeddings of the n patches. When only some patches are
        active and the projection embeds each patch alone, their pixels are gathered and
        projected by one matrix product; otherwise (e.g. all fine) the projection runs on
        the whole image, mmseg's own computation, and the active tokens are kept.
        """
        batch_index, cell_index = active.nonzero(as_tuple=True)
        pool = size // self.patch_size
        every = batch_index.numel() == active.numel()
        if not every and is_patchify(patch_embed.projection, self.patch_size):
            pixels = gather_patches(x, size, batch_index, cell_index)  # T, C_in, size, size
            if pool > 1:
                pixels = pool_cells(pixels, pool)
            proj = patch_embed.projection
            tokens = F.linear(pixels.flatten(1), proj.weight.flatten(1), proj.bias)
            if patch_embed.norm is not None:
                tokens = patch_embed.norm(tokens)
            return tokens + pos[cell_index]
        tokens = patch_embed(pool_cells(x, pool))[0]  # B, n, C
        if every:
            return (tokens + pos).flatten(0, 1)
        return tokens[batch_index, cell_index] + pos[cell_index]


def is_patchify(proj: nn.Module, patch_size: int) -> bool:
    """Whether ``proj`` embeds each ``patch_size`` patch alone (conv, kernel = stride, no padding).

    Then embedding a patch is one matrix product on its flattened pixels, and only the
    patches that become tokens need embedding.
    """
    p = (patch_size, patch_size)
    return (isinstance(proj, nn.Conv2d) and proj.kernel_size == p and proj.stride == p
            and proj.padding == (0, 0) and proj.dilation == (1, 1) and proj.groups == 1)
