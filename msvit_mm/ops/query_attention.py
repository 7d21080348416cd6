"""Attention of query-only tokens over the tokens of a packed batch.

Query-only tokens (the counterfactual fine tokens of ``msvit_mm.ops.query_layout``) attend,
image by image, to the real packed tokens of their image: the real tokens are the only keys
and values, the query tokens never attend to each other and are never attended to. They run
without autograd (their outputs feed only a gradient whose value they do not change), so
only their query projection is computed and nothing is saved for backward.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import cumulative_seqlens, varlen_attn, varlen_kernel_applies


def equal_pair_runs(seqlens: Sequence[int], query_seqlens: Sequence[int]
                    ) -> List[Tuple[int, int, int]]:
    """Consecutive images with the same (keys, queries) counts: ``[(images, keys, queries)]``.

    ``equal_pair_runs([5, 5, 3], [2, 2, 0]) == [(2, 5, 2), (1, 3, 0)]``.
    """
    runs: List[Tuple[int, int, int]] = []
    for n, m in zip(seqlens, query_seqlens):
        if runs and runs[-1][1:] == (n, m):
            runs[-1] = (runs[-1][0] + 1, n, m)
        else:
            runs.append((1, int(n), int(m)))
    return runs


@torch.no_grad()
def query_attention(queries: Tensor, qkv: Tensor, mha: nn.MultiheadAttention,
                    seqlens: Sequence[int], query_seqlens: Sequence[int],
                    cu_seqlens: Optional[Tensor] = None,
                    cu_query: Optional[Tensor] = None) -> Tensor:
    """Query-only tokens attending to the real tokens of their image (no autograd).

    Args:
        queries: [Q, C] normalized query-only tokens, image 0's first,
            ``Q = sum(query_seqlens)``.
        qkv: [T, 3, heads, d] the real tokens' projections (``attention.packed_qkv``);
            only k and v are read.
        mha: the layer's attention weights.
        seqlens: real tokens per image; query_seqlens: query tokens per image (ints).
        cu_seqlens, cu_query: [B + 1] int32 offsets of both, for the GPU kernel (CUDA, half
            precision); made here when needed and not given.

    Returns:
        [Q, C] after the output projection; no attention dropout.
    """
    q_total, c = queries.shape
    h = mha.num_heads
    d = c // h
    bias = None if mha.in_proj_bias is None else mha.in_proj_bias[:c]
    q = F.linear(queries, mha.in_proj_weight[:c], bias).view(q_total, h, d)
    k, v = qkv.detach()[:, 1], qkv.detach()[:, 2]  # T, heads, d
    if q_total == 0:
        return mha.out_proj(q.reshape(0, c))
    if varlen_kernel_applies(qkv, 0.):
        cu_seqlens = cumulative_seqlens(seqlens, qkv.device) if cu_seqlens is None else cu_seqlens
        cu_query = cumulative_seqlens(query_seqlens, qkv.device) if cu_query is None else cu_query
        out = varlen_attn(q.to(k.dtype), k, v, cu_query, cu_seqlens, max(query_seqlens),
                          max(seqlens))
        return mha.out_proj(out.reshape(q_total, c))
    outs, ks, qs = [], 0, 0
    for count, n, m in equal_pair_runs(seqlens, query_seqlens):
        if m:
            qp = q[qs:qs + count * m].view(count, m, h, d).transpose(1, 2)
            kp = k[ks:ks + count * n].view(count, n, h, d).transpose(1, 2)
            vp = v[ks:ks + count * n].view(count, n, h, d).transpose(1, 2)
            o = F.scaled_dot_product_attention(qp, kp, vp)  # count, heads, m, d
            outs.append(o.transpose(1, 2).reshape(count * m, c))
        ks, qs = ks + count * n, qs + count * m
    return mha.out_proj(outs[0] if len(outs) == 1 else torch.cat(outs, dim=0))
