"""Multi-head self-attention on masked (padded) and packed (concatenated) token sets.

All use the weights of a ``torch.nn.MultiheadAttention`` (``in_proj_weight``,
``in_proj_bias``, ``out_proj``), the module mmseg's ViT layers hold, so the values match
mmseg's ``VisionTransformer`` for the same tokens.

Every attention call is 4-D ([B, heads, N, d]): on CPU, torch 2.13 sends 3-D inputs to the
unfused "math" kernel (about 5x slower at 1024 tokens) and 4-D ones to the fused
flash-attention kernel.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

try:  # torch >= 2.10: flash-attention variable-length kernel (CUDA only)
    from torch.nn.attention.varlen import varlen_attn
except ImportError:  # pragma: no cover
    varlen_attn = None


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


def equal_length_runs(seqlens: Sequence[int]) -> List[Tuple[int, int]]:
    """Consecutive images of equal length: ``[(images, length), ...]`` in batch order.

    ``equal_length_runs([5, 5, 3, 5]) == [(2, 5), (1, 3), (1, 5)]``.
    """
    runs: List[Tuple[int, int]] = []
    for n in seqlens:
        if runs and runs[-1][1] == n:
            runs[-1] = (runs[-1][0] + 1, n)
        else:
            runs.append((1, int(n)))
    return runs


def cumulative_seqlens(seqlens: Sequence[int], device: torch.device) -> Tensor:
    """[B + 1] int32 offsets ``[0, n0, n0 + n1, ...]``, as variable-length kernels take them."""
    offsets = [0]
    for n in seqlens:
        offsets.append(offsets[-1] + int(n))
    return torch.tensor(offsets, dtype=torch.int32, device=device)


def varlen_kernel_applies(x: Tensor, dropout_p: float) -> bool:
    """Whether :func:`packed_attention` can use torch's GPU variable-length kernel on ``x``
    (the projected q, k, v): :func:`varlen_kernel_supports` for ``x``'s device and dtype."""
    return varlen_kernel_supports(x.device.type, x.dtype, dropout_p, varlen_attn is not None)


def varlen_kernel_supports(device_type: str, dtype: torch.dtype, dropout_p: float,
                           available: bool) -> bool:
    """The kernel choice as a pure function: ``torch.nn.attention.varlen.varlen_attn``
    (flash attention) runs on CUDA, in fp16/bf16, without dropout, where torch has it
    (``available``); everything else takes the per-run fused path."""
    return (available and device_type == 'cuda' and dropout_p == 0.
            and dtype in (torch.float16, torch.bfloat16))


def packed_attention(x: Tensor, mha: nn.MultiheadAttention, seqlens: Sequence[int],
                     dropout_p: float = 0., cu_seqlens: Optional[Tensor] = None) -> Tensor:
    """Self-attention within each image of a packed batch, fast.

    Same values as attention run image by image (the reference in
    ``tests/ops/reference.py``). The projections run once on all T tokens; attention runs
    as one fused call per run of consecutive equal-length images (one call for the whole
    batch when all images have the same length) on views of the projected tokens; on CUDA
    in half precision it is one variable-length flash-attention call for the whole batch
    (``torch.nn.attention.varlen``).

    Args:
        x: [T, C], the images' tokens concatenated (image 0 first), ``T = sum(seqlens)``.
        mha: the layer's attention weights.
        seqlens: tokens per image (Python ints).
        dropout_p: attention dropout (training only).
        cu_seqlens: optional [B + 1] int32 offsets (:func:`cumulative_seqlens`) on x's device,
            for the GPU kernel; made here when needed and not given.

    Returns:
        [T, C].
    """
    return attend_packed(packed_qkv(x, mha), mha, seqlens, dropout_p, cu_seqlens)


def packed_qkv(x: Tensor, mha: nn.MultiheadAttention) -> Tensor:
    """The input projection of packed tokens x [T, C]: [T, 3, heads, C / heads] (q, k, v)."""
    t, c = x.shape
    h = mha.num_heads
    return F.linear(x, mha.in_proj_weight, mha.in_proj_bias).view(t, 3, h, c // h)


def attend_packed(qkv: Tensor, mha: nn.MultiheadAttention, seqlens: Sequence[int],
                  dropout_p: float = 0., cu_seqlens: Optional[Tensor] = None) -> Tensor:
    """:func:`packed_attention` from the projected tokens ``qkv`` [T, 3, heads, d]: [T, C]."""
    t, _, h, d = qkv.shape
    c = h * d
    if varlen_kernel_applies(qkv, dropout_p):  # qkv: the dtype autocast gives
        if cu_seqlens is None:
            cu_seqlens = cumulative_seqlens(seqlens, qkv.device)
        longest = max(seqlens)
        q, k, v = qkv.unbind(1)  # T, heads, d each
        out = varlen_attn(q, k, v, cu_seqlens, cu_seqlens, longest, longest)
        return mha.out_proj(out.reshape(t, c))
    outs, start = [], 0
    for count, length in equal_length_runs(seqlens):
        part = qkv[start:start + count * length].view(count, length, 3, h, d)
        q, k, v = (p.transpose(1, 2) for p in part.unbind(2))  # count, heads, length, d
        o = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
        outs.append(o.transpose(1, 2).reshape(count * length, c))
        start += count * length
    return mha.out_proj(outs[0] if len(outs) == 1 else torch.cat(outs, dim=0))
