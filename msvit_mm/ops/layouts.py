"""Token layouts: what attention needs and how dense maps come back, one per execution form.

The encoder layers run on tokens in one of three layouts with one interface
(:class:`~msvit_mm.ops.layout_protocol.Layout`: ``attention``, ``drop_path``, ``to_map``,
``first_tokens``), so one layer loop (``msvit_mm.models.backbones.layer_forward.run_layers``)
serves them all without asking which it has:

- :class:`GridLayout`: a plain ViT sequence [B, P + H * W, C] (mmseg's ``VisionTransformer``).
- :class:`MaskedLayout`: MSViT's masked form [B, P + Nc + Nf, C], every token of both scales,
  attention masked to the tokens that exist.
- :class:`~msvit_mm.ops.packed_layout.PackedLayout`: MSViT's packed form [T, C], only the
  tokens that exist, concatenated over the batch.

The two mixed-scale layouts are built, with their token tensor, from the tokenizer's output
(``MaskedLayout.from_tokens`` / ``PackedLayout.from_tokens``, any
:class:`~msvit_mm.ops.layout_protocol.ScaleTokens`). P prefix (cls) tokens come first in
every image. Pure tensor functions, no mmseg import.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from .attention import masked_attention
from .drop_path import batched_drop_path
from .layout_protocol import Layout, ScaleTokens
from .packed_layout import COUNTERFACTUALS, PackedLayout
from .packing import to_dense

__all__ = ['COUNTERFACTUALS', 'GridLayout', 'Layout', 'MaskedLayout', 'PackedLayout',
           'ScaleTokens']


@dataclass(frozen=True)
class GridLayout:
    """A plain ViT sequence [B, P + H * W, C]: prefix tokens, then the patch grid (raster)."""
    num_prefix: int
    hw: Tuple[int, int]

    def attention(self, x: Tensor, mha: nn.MultiheadAttention, dropout_p: float = 0.) -> Tensor:
        return masked_attention(x, mha, None, dropout_p)

    def drop_path(self, x: Tensor, drop_prob: float) -> Tensor:
        return batched_drop_path(x, drop_prob)

    def to_map(self, x: Tensor) -> Tensor:
        b, _, c = x.shape
        grid = x[:, self.num_prefix:].reshape(b, self.hw[0], self.hw[1], c)
        return grid.permute(0, 3, 1, 2).contiguous()

    def first_tokens(self, x: Tensor) -> Tensor:
        return x[:, 0]


@dataclass(frozen=True)
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

    @classmethod
    def from_tokens(cls, tokens: ScaleTokens, prefix: Optional[Tensor] = None
                    ) -> Tuple[Tensor, 'MaskedLayout']:
        """The masked form: ``[prefix | coarse | fine]`` [B, P + Nc + Nf, C] and its layout.

        Args:
            tokens: every coarse token ``coarse`` [B, Hc * Wc, C] and every fine one ``fine``
                [B, Hp * Wp, C], with their activity and decisions.
            prefix: [B, P, C] always-active tokens (the cls token), or None.
        """
        parts, act = [tokens.coarse, tokens.fine], [tokens.coarse_active, tokens.fine_active]
        if prefix is not None:
            parts.insert(0, prefix)
            act.insert(0, tokens.coarse_active.new_ones(prefix.shape[:2]))
        active = torch.cat(act, 1)
        layout = cls(num_prefix=len(parts) - 2, hw=tuple(tokens.valid_hw),
                     key_valid=None if bool(active.all()) else active,
                     coarse_weight=tokens.coarse_weight, scale=tokens.scale)
        return torch.cat(parts, 1), layout

    def attention(self, x: Tensor, mha: nn.MultiheadAttention, dropout_p: float = 0.) -> Tensor:
        return masked_attention(x, mha, self.key_valid, dropout_p)

    def to_map(self, x: Tensor) -> Tensor:
        p, (hc, wc) = self.num_prefix, self.coarse_weight.shape[1:]
        nc = hc * wc
        dense = to_dense(x[:, p:p + nc], x[:, p + nc:], self.coarse_weight, self.scale)
        return dense[:, :, :self.hw[0], :self.hw[1]].contiguous()
