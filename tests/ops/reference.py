"""Slow, plain references the fast paths are tested against (test code, not the package's).

``pack`` / ``unpack`` are an inverse pair:

    tokens, seqlens = pack(seq, active)   # [B, N, C] -> [T, C], T = active.sum()
    seq0 = unpack(tokens, active)         # [T, C] -> [B, N, C], zeros where inactive
"""
from typing import NamedTuple, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def packed_attention_reference(x: Tensor, mha: nn.MultiheadAttention, seqlens: Sequence[int],
                               dropout_p: float = 0.) -> Tensor:
    """Self-attention within each image of a packed batch: the plain per-image loop.

    The reference ``msvit_mm.ops.attention.packed_attention`` is tested against.

    Args:
        x: [T, C], the images' tokens concatenated (image 0 first), ``T = sum(seqlens)``.
        mha: the layer's attention weights.
        seqlens: tokens per image (Python ints).
        dropout_p: attention dropout (training only).

    Returns:
        [T, C]. The projections run once on all T tokens; attention runs per image.
    """
    qkv = F.linear(x, mha.in_proj_weight, mha.in_proj_bias)  # T, 3C
    h = mha.num_heads
    outs = []
    for part in torch.split(qkv, list(seqlens)):
        n, c = part.shape[0], part.shape[1] // 3
        # 1, heads, n, d each: 4-D for the fused CPU kernel
        q, k, v = (t.reshape(n, h, c // h).transpose(0, 1)[None] for t in part.chunk(3, dim=-1))
        o = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
        outs.append(o[0].transpose(0, 1).reshape(n, c))
    return mha.out_proj(torch.cat(outs, dim=0))


def pack(seq: Tensor, active: Tensor) -> Tuple[Tensor, Tensor]:
    """Keep the active tokens of every image, concatenated: [B, N, C] -> [T, C].

    Returns the tokens (image 0's first, each image's in sequence order) and the
    per-image counts ``seqlens`` [B] (long) with ``seqlens.sum() == T``.
    """
    return seq[active], active.sum(1)


def unpack(tokens: Tensor, active: Tensor) -> Tensor:
    """Inverse of :func:`pack`: [T, C] -> [B, N, C], zeros at inactive positions."""
    out = tokens.new_zeros(active.shape + tokens.shape[1:])
    out[active] = tokens
    return out


def dense_to_tokens(dense: Tensor, scale: int) -> Tuple[Tensor, Tensor]:
    """Tokens of both scales from a fine-grid map: [B, C, Hp, Wp] -> coarse, fine.

    The coarse token of a region is the mean of its ``r x r`` cells, so
    ``to_dense(*dense_to_tokens(d, r), w, r) == d`` wherever ``d`` is constant on the
    coarse regions selected by ``w`` (and everywhere on fine regions).
    """
    coarse = torch.nn.functional.avg_pool2d(dense, scale)
    return coarse.flatten(2).transpose(1, 2), dense.flatten(2).transpose(1, 2)


class ScaleTokensOf(NamedTuple):
    """Any object with these fields builds a layout (``msvit_mm.ops.layout_protocol.ScaleTokens``);
    the tests give the pieces directly."""
    coarse: Tensor
    fine: Tensor
    coarse_active: Tensor
    fine_active: Tensor
    coarse_weight: Tensor
    scale: int
    valid_hw: Tuple[int, int]
