"""Masked execution whose attention weighs each key by its straight-through decision.

In the masked layout (``msvit_mm.ops.layouts.MaskedLayout``) the gate's decisions reach the
output only where the dense map is assembled (``to_dense``), so an output read from the cls
token alone gives the gate no task gradient. Here key j of an image gets the weight w_j,
its straight-through decision (1 where the token exists, 0 where it does not: the coarse
token of a region carries ``coarse_weight``, its fine tokens ``1 - coarse_weight``), and

    A_ij = w_j exp(s_ij) / sum_k w_k exp(s_ik)

(DynamicViT's attention masking). Values equal the masked layout's (w is 0 or 1); the
gradient of w_j tells what letting key j in (or out) would change, for every token that
reads it, the cls token included. Pure tensor functions, no mmseg import.
"""
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.layouts import MaskedLayout
from ..ops.packing import upsample_regions
from ..ops.patchify import in_bounds_mask


def key_weighted_attention(x: Tensor, mha: nn.MultiheadAttention, key_weight: Tensor,
                           dropout_p: float = 0.) -> Tensor:
    """Self-attention with key weights: ``A_ij = w_j exp(s_ij) / sum_k w_k exp(s_ik)``.

    Args:
        x: [B, N, C] tokens (already normalized).
        mha: the layer's attention weights (``in_proj_*``, ``out_proj``).
        key_weight: [B, N] float in [0, 1], with gradient; every row needs one key > 0.
        dropout_p: attention dropout (training only).

    Returns:
        [B, N, C] after the output projection; with ``key_weight`` in {0, 1} the values of
        attention masked to the keys of weight 1.
    """
    b, n, c = x.shape
    h = mha.num_heads
    q, k, v = (t.reshape(b, n, h, c // h).transpose(1, 2)  # B, h, N, d
               for t in F.linear(x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1))
    logits = q @ k.transpose(-2, -1) * (c // h) ** -0.5  # B, h, N, N
    present = (key_weight > 0)[:, None, None, :]
    top = logits.masked_fill(~present, torch.finfo(logits.dtype).min).amax(-1, keepdim=True)
    e = (logits - top.detach()).exp() * key_weight[:, None, None, :].to(logits.dtype)
    attn = e / e.sum(-1, keepdim=True).clamp_min(torch.finfo(e.dtype).tiny)
    attn = F.dropout(attn, dropout_p, training=dropout_p > 0)
    out = (attn @ v).transpose(1, 2).reshape(b, n, c)
    return mha.out_proj(out)


@dataclass(frozen=True)
class KeyWeightedLayout(MaskedLayout):
    """A :class:`MaskedLayout` whose attention is :func:`key_weighted_attention`.

    Attributes (beyond the masked layout's):
        key_weight: [B, P + Nc + Nf] float, each token's straight-through decision (see the
            module), with the gradient of ``coarse_weight``.
    """
    key_weight: Optional[Tensor] = None

    @classmethod
    def from_masked(cls, layout: MaskedLayout) -> 'KeyWeightedLayout':
        """The same tokens and decisions, keys weighted by ``layout.coarse_weight``."""
        w = layout.coarse_weight  # B, Hc, Wc
        b, hc, wc = w.shape
        s = layout.scale
        in_bounds = in_bounds_mask((hc * s, wc * s), layout.hw, w.device).to(w.dtype)
        fine = (1 - upsample_regions(w, s)).flatten(1) * in_bounds  # B, Hp * Wp
        parts = [w.new_ones(b, layout.num_prefix), w.flatten(1), fine]
        return cls(num_prefix=layout.num_prefix, hw=layout.hw, key_valid=layout.key_valid,
                   coarse_weight=w, scale=s, key_weight=torch.cat(parts, 1))

    def attention(self, x: Tensor, mha: nn.MultiheadAttention, dropout_p: float = 0.) -> Tensor:
        return key_weighted_attention(x, mha, self.key_weight, dropout_p)
