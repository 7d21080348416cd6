"""The interfaces of the token layouts (``msvit_mm.ops.layouts``): what the layer loop needs
of a layout, and what a layout is built from."""
from typing import Protocol, Tuple, runtime_checkable

from torch import Tensor, nn


@runtime_checkable
class Layout(Protocol):
    """Where the tokens of one encoder input sit, and how the layer loop works on them.

    ``x`` is the layout's token tensor: [B, N, C] for the batched layouts (grid, masked),
    [T, C] for the packed one. P prefix (cls) tokens come first in every image.
    """

    def attention(self, x: Tensor, mha: nn.MultiheadAttention, dropout_p: float = 0.) -> Tensor:
        """Self-attention within each image with ``mha``'s weights; ``x``'s shape."""

    def drop_path(self, x: Tensor, drop_prob: float) -> Tensor:
        """Stochastic depth of a residual branch ``x``: each image's branch dropped with
        probability ``drop_prob`` (one draw per image), kept ones scaled by
        ``1 / (1 - drop_prob)``; ``x``'s shape; ``drop_prob == 0``: ``x``."""

    def to_map(self, x: Tensor) -> Tensor:
        """[B, C, Hv, Wv] map on the image's own fine grid, coarse tokens repeated over their
        cells."""

    def first_tokens(self, x: Tensor) -> Tensor:
        """[B, C], each image's first token (its cls token, if any)."""


class ScaleTokens(Protocol):
    """Both scales of a batch of mixed-scale tokens, as a layout is built from them
    (``msvit_mm.models.tokenizers.MixedScaleTokens`` is one).

    Attributes:
        coarse: coarse tokens, raster order: [B, Hc * Wc, C] (every region) for the masked
            layout, [Tc, C] (the active ones, image 0's first) for the packed one.
        fine: fine tokens, Hp = scale * Hc: [B, Hp * Wp, C] or [Tf, C], as ``coarse``.
        coarse_active: [B, Hc * Wc] bool, coarse tokens that exist.
        fine_active: [B, Hp * Wp] bool, fine tokens that exist.
        coarse_weight: [B, Hc, Wc] float decisions (straight-through), values in {0, 1}.
        scale: fine cells per coarse side.
        valid_hw: (Hv, Wv), the image's own fine grid.
    """
    coarse: Tensor
    fine: Tensor
    coarse_active: Tensor
    fine_active: Tensor
    coarse_weight: Tensor
    scale: int
    valid_hw: Tuple[int, int]
