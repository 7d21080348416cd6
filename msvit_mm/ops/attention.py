"""Multi-head self-attention on masked (padded) and packed (concatenated) token sets.

Both use the weights of a ``torch.nn.MultiheadAttention`` (``in_proj_weight``,
``in_proj_bias``, ``out_proj``), the module mmseg's ViT layers hold, so the values match
mmseg's ``VisionTransformer`` for the same tokens.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _heads(x: Tensor, num_heads: int) -> Tensor:
    """[..., N, C] -> [..., heads, N, C / heads]."""
    *lead, n, c = x.shape
    return x.reshape(*lead, n, num_heads, c // num_heads).transpose(-3, -2)


def _merge(x: Tensor) -> Tensor:
    """[..., heads, N, d] -> [..., N, heads * d]."""
    x = x.transpose(-3, -2)
    return x.reshape(*x.shape[:-2], -1)


def key_padding_bias(key_valid: Tensor, dtype: torch.dtype) -> Tensor:
    """Additive attention bias [B, 1, 1, N]: 0 on valid keys, ``finfo(dtype).min`` elsewhere.

    ``finfo.min`` rather than ``-inf`` so a row with no valid key gives no NaN.
    """
    bias = torch.zeros(key_valid.shape, dtype=dtype, device=key_valid.device)
    bias.masked_fill_(~key_valid, torch.finfo(dtype).min)
    return bias[:, None, None, :]


def masked_attention(x: Tensor, mha: nn.MultiheadAttention, key_valid: Optional[Tensor],
                     dropout_p: float = 0.) -> Tensor:
    """Self-attention over padded sequences, invalid keys masked.

    Args:
        x: [B, N, C] tokens (already normalized).
        mha: the layer's attention weights.
        key_valid: [B, N] bool, or None when every token is valid.
        dropout_p: attention dropout (training only).

    Returns:
        [B, N, C], after the output projection. Rows of invalid queries are computed too.
    """
    q, k, v = F.linear(x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)
    h = mha.num_heads
    bias = None if key_valid is None else key_padding_bias(key_valid, x.dtype)
    out = F.scaled_dot_product_attention(
        _heads(q, h), _heads(k, h), _heads(v, h), attn_mask=bias, dropout_p=dropout_p)
    return mha.out_proj(_merge(out))


def packed_attention(x: Tensor, mha: nn.MultiheadAttention, seqlens: Sequence[int],
                     dropout_p: float = 0.) -> Tensor:
    """Self-attention within each image of a packed batch.

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
        q, k, v = part.chunk(3, dim=-1)
        o = F.scaled_dot_product_attention(
            _heads(q, h), _heads(k, h), _heads(v, h), dropout_p=dropout_p)
        outs.append(_merge(o))
    return mha.out_proj(torch.cat(outs, dim=0))
