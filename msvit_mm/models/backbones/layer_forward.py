"""Forward of mmseg's ``TransformerEncoderLayer`` on masked or packed mixed-scale tokens.

The layer's own submodules (``ln1``, ``attn``, ``ln2``, ``ffn``) are used, so parameter
names and values are mmseg's; only the attention call and stochastic depth change.
"""
from typing import Optional, Sequence

import torch.utils.checkpoint as cp
from mmcv.cnn.bricks.drop import DropPath
from torch import Tensor, nn

from ...ops.attention import masked_attention, packed_attention
from ...ops.drop_path import packed_drop_path


def _branch_drop(module: nn.Module, x: Tensor, sample_index: Optional[Tensor],
                 num_samples: int) -> Tensor:
    """Apply a residual branch's dropout layer; DropPath per image on packed tokens."""
    if sample_index is not None and isinstance(module, DropPath):
        return packed_drop_path(x, module.drop_prob if module.training else 0.,
                                sample_index, num_samples)
    return module(x)


def layer_forward(layer: nn.Module, x: Tensor, key_valid: Optional[Tensor] = None,
                  seqlens: Optional[Sequence[int]] = None,
                  sample_index: Optional[Tensor] = None,
                  cu_seqlens: Optional[Tensor] = None) -> Tensor:
    """One encoder layer.

    Args:
        layer: an mmseg ``TransformerEncoderLayer``.
        x: masked form [B, N, C] (with ``key_valid`` [B, N] or None) or packed form [T, C]
            (with ``seqlens``, tokens per image, ``sample_index`` [T] and optionally
            ``cu_seqlens`` [B + 1] int32 offsets for a GPU variable-length kernel).

    Returns:
        Same shape as ``x``.
    """
    mha = layer.attn
    drop_p = mha.attn.dropout if mha.training else 0.
    num_samples = len(seqlens) if seqlens is not None else x.shape[0]

    def inner(x: Tensor) -> Tensor:
        h = layer.ln1(x)
        if seqlens is None:
            a = masked_attention(h, mha.attn, key_valid, drop_p)
        else:
            a = packed_attention(h, mha.attn, seqlens, drop_p, cu_seqlens)
        x = x + _branch_drop(mha.dropout_layer, mha.proj_drop(a), sample_index, num_samples)
        ffn = layer.ffn
        f = ffn.gamma2(ffn.layers(layer.ln2(x)))
        return x + _branch_drop(ffn.dropout_layer, f, sample_index, num_samples)

    if layer.with_cp and x.requires_grad:
        return cp.checkpoint(inner, x, use_reentrant=False)
    return inner(x)
