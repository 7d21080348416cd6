"""The encoder layer loop of ``execution='packed_query'``: packed execution's real tokens,
plus query-only tokens that follow them without autograd (``msvit_mm.ops.query_layout``).

The real tokens run exactly packed execution's computation (same values, same gradients);
the query tokens get the layers' own norms and FFN and their image's stochastic depth draw,
no elementwise dropout, and nothing they compute is saved for backward.
"""
from typing import List, Tuple

import torch
import torch.utils.checkpoint as cp
from torch import Tensor, nn

from ...ops.query_layout import QueryPackedLayout


def _residual(x: Tensor, q: Tensor, branch: Tensor, q_branch: Tensor,
              dropout_layer: nn.Module, layout: QueryPackedLayout) -> Tuple[Tensor, Tensor]:
    """``x + dropout(branch)``, ``q + q_branch`` with the same stochastic depth draw (a
    ``drop_prob`` layer); elementwise dropout acts on the real tokens only."""
    drop_prob = getattr(dropout_layer, 'drop_prob', None)
    if drop_prob is None:
        return x + dropout_layer(branch), q + q_branch
    p = float(drop_prob) if dropout_layer.training else 0.
    branch, q_branch = layout.drop_path(branch, q_branch, p)
    return x + branch, q + q_branch


def query_layer_forward(layer: nn.Module, x: Tensor, q: Tensor, layout: QueryPackedLayout
                        ) -> Tuple[Tensor, Tensor]:
    """One mmseg ``TransformerEncoderLayer`` on the real tokens x [T, C] and the query
    tokens q [Q, C]; returns both, same shapes (q without autograd)."""
    mha, ffn = layer.attn, layer.ffn
    attn_p = mha.attn.dropout if mha.training else 0.

    def inner(x: Tensor, q: Tensor) -> Tuple[Tensor, Tensor]:
        with torch.no_grad():
            qn = layer.ln1(q)
        a, qa = layout.attention(layer.ln1(x), qn, mha.attn, attn_p)
        x, q = _residual(x, q, mha.proj_drop(a), qa, mha.dropout_layer, layout)
        f = ffn.gamma2(ffn.layers(layer.ln2(x)))
        with torch.no_grad():
            qf = ffn.gamma2(_eval_layers(ffn.layers, layer.ln2(q)))
        return _residual(x, q, f, qf, ffn.dropout_layer, layout)

    if layer.with_cp and x.requires_grad:
        return cp.checkpoint(inner, x, q, use_reentrant=False)
    return inner(x, q)


def _eval_layers(layers: nn.Module, x: Tensor) -> Tensor:
    """``layers(x)`` with its dropouts skipped (the query tokens draw no random numbers)."""
    out = x
    for m in _flat(layers):
        if not isinstance(m, nn.Dropout):
            out = m(out)
    return out


def _flat(module: nn.Module) -> List[nn.Module]:
    if isinstance(module, nn.Sequential):
        return [m for child in module for m in _flat(child)]
    return [module]


def run_query_layers(vit: nn.Module, x: Tensor, q: Tensor, layout: QueryPackedLayout) -> List:
    """``layer_forward.run_layers`` for ``execution='packed_query'``.

    Args:
        vit: an MSViT.
        x: [T, C] real packed tokens (position embeddings added, after ``drop_after_pos``).
        q: [Q, C] query-only tokens (position embeddings added; no autograd).
        layout: their :class:`~msvit_mm.ops.query_layout.QueryPackedLayout`.

    Returns:
        as ``run_layers``: [B, C, Hv, Wv] maps (``[map, cls]`` with ``output_cls_token``),
        packed execution's values.
    """
    def output(x: Tensor, q: Tensor):
        dense = layout.to_map(x, q)
        return [dense, layout.first_tokens(x)] if vit.output_cls_token else dense

    def no_grad(module: nn.Module, t: Tensor) -> Tensor:
        with torch.no_grad():
            return module(t)

    q = q.detach()
    if vit.pre_norm:
        x, q = vit.pre_ln(x), no_grad(vit.pre_ln, q)
    outs = [output(x, q)] if vit.out_origin else []
    last = len(vit.layers) - 1
    for i, layer in enumerate(vit.layers):
        x, q = query_layer_forward(layer, x, q, layout)
        if i == last and vit.final_norm:
            x, q = vit.norm1(x), no_grad(vit.norm1, q)
        if i in vit.out_indices:
            outs.append(output(x, q))
    return outs
