"""MixedScaleTokenizer: image -> MixedScaleTokens, with the gate inside."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...ops.gumbel import gumbel_sigmoid, straight_through
from ...ops.packing import token_activity
from ...ops.patchify import (gather_patches, grid_size, in_bounds_mask, map_to_seq,
                             pad_to_multiple, pool_cells, pool_pos_embed, region_pixels)
from .mixed_scale_tokens import MixedScaleTokens
from .region_gate import RegionGate

GATE_MODES = ('learned', 'all_fine', 'all_coarse', 'random')


def check_scales(patch_size: int, coarse_patch_size: int) -> int:
    """Return ``coarse_patch_size // patch_size`` or raise if it is not a power of two >= 2."""
    ratio = coarse_patch_size // patch_size if patch_size > 0 else 0
    if ratio < 2 or ratio * patch_size != coarse_patch_size or ratio & (ratio - 1):
        raise ValueError(
            f'coarse_patch_size={coarse_patch_size} must be a power-of-two multiple (>= 2x) '
            f'of patch_size={patch_size}')
    return ratio


@MODELS.register_module()
class MixedScaleTokenizer(BaseModule):
    """Split an image into coarse regions; the gate keeps each one coarse or makes it fine.

    Fine tokens are the shared patch embedding of ``patch_size`` patches; a coarse token is
    the same embedding of the region average-pooled by ``ratio`` (so a ``coarse_patch_size``
    region becomes one ``patch_size`` patch). Coarse position embeddings are the
    ``ratio x ratio`` average of the fine ones. Image sides that are not multiples of
    ``coarse_patch_size`` are zero-padded bottom/right; fine cells outside the image's own
    fine grid (ceil(H / patch_size)) never become tokens, so all-fine equals mmseg's ViT.

    Args:
        in_channels: image channels.
        patch_size: fine patch size S_f.
        coarse_patch_size: coarse region size S_c = 2^k S_f.
        gate_hidden_dims: hidden widths of the gate MLP (see :class:`RegionGate`).
        gate_mode: 'learned' | 'all_fine' | 'all_coarse' | 'random'.
        gate_threshold: inference decision ``sigmoid(logit) > gate_threshold`` (learned mode);
            an attribute, so it can be changed at test time.
        gumbel_temperature: temperature of the Gumbel-sigmoid while training.
        random_coarse_ratio: probability of a region being coarse in 'random' mode, drawn
            from the global CPU generator so a seeded run repeats whatever the device.
    """

    def __init__(self, in_channels: int = 3, patch_size: int = 16, coarse_patch_size: int = 32,
                 gate_hidden_dims: Sequence[int] = (128, 128, 128), gate_mode: str = 'learned',
                 gate_threshold: float = 0.5, gumbel_temperature: float = 1.0,
                 random_coarse_ratio: float = 0.5, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.ratio = check_scales(patch_size, coarse_patch_size)
        if gate_mode not in GATE_MODES:
            raise ValueError(f'gate_mode={gate_mode!r} is not one of {GATE_MODES}')
        for name, value in (('gate_threshold', gate_threshold),
                            ('random_coarse_ratio', random_coarse_ratio)):
            if not 0. <= value <= 1.:
                raise ValueError(f'{name}={value} must lie in [0, 1]')
        if not gumbel_temperature > 0:
            raise ValueError(f'gumbel_temperature={gumbel_temperature} must be > 0')
        self.in_channels = in_channels
        self.patch_size = patch_size
        self.coarse_patch_size = coarse_patch_size
        self.gate_mode = gate_mode
        self.gate_threshold = gate_threshold
        self.gumbel_temperature = gumbel_temperature
        self.random_coarse_ratio = random_coarse_ratio
        self.gate = RegionGate(in_channels * coarse_patch_size ** 2, gate_hidden_dims)

    @staticmethod
    def _check_mask(mask: Tensor, shape) -> Tensor:
        if tuple(mask.shape) != tuple(shape):
            raise ValueError(f'coarse_mask of shape {tuple(mask.shape)} does not match the '
                             f'coarse grid {tuple(shape)} (B, Hc, Wc)')
        return mask.bool()

    def decide(self, logits: Tensor) -> Tuple[Tensor, Tensor]:
        """Gate decisions from logits [B, Hc, Wc] -> (coarse_mask bool, coarse_weight float)."""
        if self.gate_mode == 'learned':
            if self.training:
                soft = gumbel_sigmoid(logits, self.gumbel_temperature)
                hard = soft > 0.5
                return hard, straight_through(soft, hard)
            hard = torch.sigmoid(logits) > self.gate_threshold
        elif self.gate_mode == 'random':
            draw = torch.rand(logits.shape, device='cpu') < self.random_coarse_ratio
            hard = draw.to(logits.device)
        else:
            fill = torch.ones_like if self.gate_mode == 'all_coarse' else torch.zeros_like
            hard = fill(logits, dtype=torch.bool)  # traceable (full_like with a bool is not)
        return hard, hard.to(logits.dtype)

    def forward(self, x: Tensor, patch_embed: nn.Module, fine_pos: Tensor,
                coarse_mask: Optional[Tensor] = None, packed: bool = False) -> MixedScaleTokens:
        """Tokenize a batch.

        Args:
            x: [B, in_channels, H, W] images.
            patch_embed: the backbone's patch embedding, [B, C_in, h, w] -> ([B, h*w/S_f^2, C], hw).
            fine_pos: [1, C, Hv, Wv] fine position embeddings on the image's fine grid,
                (Hv, Wv) = ceil((H, W) / patch_size).
            coarse_mask: optional [B, Hc, Wc] bool decisions that replace the gate's (for
                analysis, benchmarks and tests); in learned mode the gate still runs and its
                probabilities carry the straight-through gradient.
            packed: embed only the tokens that exist, after the gate has decided, and return
                them in packed form (see :class:`MixedScaleTokens`); otherwise every fine
                patch and every coarse region is embedded (dense form).
        """
        valid_hw = grid_size(x.shape[-2:], self.patch_size)
        if tuple(fine_pos.shape[-2:]) != valid_hw:
            raise ValueError(f'fine_pos grid {tuple(fine_pos.shape[-2:])} != image grid {valid_hw}')
        x = pad_to_multiple(x, self.coarse_patch_size)
        grid = (x.shape[-2] // self.coarse_patch_size, x.shape[-1] // self.coarse_patch_size)
        padded_hw = (grid[0] * self.ratio, grid[1] * self.ratio)
        if self.gate_mode == 'learned':
            logits = self.gate(region_pixels(x, self.coarse_patch_size)).reshape(-1, *grid)
        else:  # forced modes skip the gate (its parameters get no gradient: see README)
            logits = x.new_zeros((x.shape[0],) + grid)
        if coarse_mask is None:
            mask, weight = self.decide(logits)
        else:
            mask = self._check_mask(coarse_mask, logits.shape)
            weight = straight_through(torch.sigmoid(logits), mask) if self.gate_mode == 'learned' \
                else mask.to(logits.dtype)
        coarse_active, fine_active = token_activity(
            mask, self.ratio, in_bounds_mask(padded_hw, valid_hw, x.device))
        fine_pos_p = F.pad(fine_pos, (0, padded_hw[1] - valid_hw[1], 0, padded_hw[0] - valid_hw[0]),
                           mode='replicate') if padded_hw != valid_hw else fine_pos
        fine_pos_seq = map_to_seq(fine_pos_p)  # 1, Hp*Wp, C
        coarse_pos_seq = map_to_seq(pool_pos_embed(fine_pos, self.ratio, padded_hw))
        if packed:
            coarse = self._embed_active(x, patch_embed, coarse_active, self.coarse_patch_size,
                                        coarse_pos_seq[0])
            fine = self._embed_active(x, patch_embed, fine_active, self.patch_size,
                                      fine_pos_seq[0])
        else:
            fine = patch_embed(x)[0] + fine_pos_seq  # B, Hp*Wp, C
            coarse = patch_embed(pool_cells(x, self.ratio))[0] + coarse_pos_seq  # B, Hc*Wc, C
        return MixedScaleTokens(
            coarse=coarse, fine=fine, coarse_mask=mask, coarse_weight=weight,
            coarse_active=coarse_active, fine_active=fine_active, gate_logits=logits,
            gate_probs=torch.sigmoid(logits), ratio=self.ratio, grid=grid, valid_hw=valid_hw)

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
