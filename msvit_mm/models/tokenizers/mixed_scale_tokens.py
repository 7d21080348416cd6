"""The one structure that crosses module boundaries: a batch of mixed-scale tokens."""
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import Tensor

from ...ops.packing import PackedLayout, pack_mixed_scale


@dataclass
class MixedScaleTokens:
    """Both scales of every region, plus which of them exist.

    Two forms: *dense* (every coarse region and fine cell embedded, what masked execution
    needs) and *packed* (only the tokens that exist, ``coarse_dense[coarse_active]``, what
    packed execution needs; the tokenizer's ``packed=True``).

    Attributes:
        coarse: embedded coarse tokens (position embedding added), raster order: dense
            [B, Hc * Wc, C], packed [Tc, C] (image 0's first).
        fine: embedded fine tokens, Hp = ratio * Hc, Wp = ratio * Wc: dense [B, Hp * Wp, C],
            packed [Tf, C].
        coarse_mask: [B, Hc, Wc] bool, True where a region is one coarse token.
        coarse_weight: [B, Hc, Wc] float, ``coarse_mask`` as a straight-through value: its
            gradient reaches the gate (only in learned mode while training).
        coarse_active: [B, Hc * Wc] bool, coarse tokens that exist.
        fine_active: [B, Hp * Wp] bool, fine tokens that exist (parent fine, inside the image).
        gate_logits: [B, Hc, Wc] the gate's logits (zeros in forced modes).
        gate_probs: [B, Hc, Wc] ``sigmoid(gate_logits)``, what the gate losses shape.
        ratio: fine cells per coarse side (coarse_patch_size / patch_size).
        grid: (Hc, Wc), the coarse grid of the padded image.
        valid_hw: (Hv, Wv), the image's own fine grid, ceil(H / patch_size) x ceil(W / ...).
    """
    coarse: Tensor
    fine: Tensor
    coarse_mask: Tensor
    coarse_weight: Tensor
    coarse_active: Tensor
    fine_active: Tensor
    gate_logits: Tensor
    gate_probs: Tensor
    ratio: int
    grid: Tuple[int, int]
    valid_hw: Tuple[int, int]

    @property
    def padded_hw(self) -> Tuple[int, int]:
        return self.grid[0] * self.ratio, self.grid[1] * self.ratio

    def tokens_per_image(self) -> Tensor:
        """[B] long: coarse plus fine tokens that exist (no cls token)."""
        return self.coarse_active.sum(1) + self.fine_active.sum(1)

    def coarse_ratio(self) -> Tensor:
        """[B] float: fraction of coarse regions kept coarse."""
        return self.coarse_mask.flatten(1).float().mean(1)

    @property
    def is_packed(self) -> bool:
        return self.coarse.dim() == 2

    def packed_sequence(self, prefix: Optional[Tensor] = None) -> Tuple[Tensor, PackedLayout]:
        """Packed form only: the packed ``[prefix | coarse | fine]`` tokens [T, C] and layout.

        Same tokens as ``pack(*dense.full_sequence(prefix))`` (see ``pack_mixed_scale``).
        """
        if not self.is_packed:
            raise ValueError('packed_sequence needs the packed form (tokenizer packed=True)')
        return pack_mixed_scale(self.coarse, self.fine, self.coarse_active, self.fine_active,
                                self.grid, self.ratio, self.valid_hw, prefix)

    def full_sequence(self, prefix: Tensor = None) -> Tuple[Tensor, Tensor]:
        """Dense form only: ``[prefix | coarse | fine]`` and its activity.

        Args:
            prefix: [B, P, C] always-active tokens (the cls token), or None.

        Returns:
            seq [B, P + Nc + Nf, C] and active [B, P + Nc + Nf] bool.
        """
        if self.is_packed:
            raise ValueError('full_sequence needs the dense form (tokenizer packed=False)')
        parts, act = [self.coarse, self.fine], [self.coarse_active, self.fine_active]
        if prefix is not None:
            parts.insert(0, prefix)
            act.insert(0, torch.ones(prefix.shape[:2], dtype=torch.bool, device=prefix.device))
        return torch.cat(parts, 1), torch.cat(act, 1)
