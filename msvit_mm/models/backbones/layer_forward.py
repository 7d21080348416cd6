"""The encoder of mmseg's ``VisionTransformer`` on tokens in any layout (``msvit_mm.ops.layouts``).

The layers' own submodules (``ln1``, ``attn``, ``ln2``, ``ffn``) are used, so parameter
names and values are mmseg's; only the attention call (the layout's, fused
``scaled_dot_product_attention``) and, on packed tokens, stochastic depth change.
"""
from typing import List, Union

import torch.utils.checkpoint as cp
from mmcv.cnn.bricks.drop import DropPath
from torch import Tensor, nn

from ...ops.drop_path import packed_drop_path
from ...ops.layouts import GridLayout, PackedLayout

Layout = Union[GridLayout, PackedLayout]  # MaskedLayout is a GridLayout


def _branch_drop(module: nn.Module, x: Tensor, layout: Layout) -> Tensor:
    """Apply a residual branch's dropout layer; DropPath per image on packed tokens."""
    if layout.sample_index is not None and isinstance(module, DropPath):
        return packed_drop_path(x, module.drop_prob if module.training else 0.,
                                layout.sample_index, layout.num_images)
    return module(x)


def layer_forward(layer: nn.Module, x: Tensor, layout: Layout) -> Tensor:
    """One encoder layer (an mmseg ``TransformerEncoderLayer``) on ``x`` in ``layout``.

    ``x``: [B, N, C] (grid and masked layouts) or [T, C] (packed); returns the same shape.
    """
    mha = layer.attn
    drop_p = mha.attn.dropout if mha.training else 0.

    def inner(x: Tensor) -> Tensor:
        a = layout.attention(layer.ln1(x), mha.attn, drop_p)
        x = x + _branch_drop(mha.dropout_layer, mha.proj_drop(a), layout)
        ffn = layer.ffn
        f = ffn.gamma2(ffn.layers(layer.ln2(x)))
        return x + _branch_drop(ffn.dropout_layer, f, layout)

    if layer.with_cp and x.requires_grad:
        return cp.checkpoint(inner, x, use_reentrant=False)
    return inner(x)


def run_layers(vit: nn.Module, x: Tensor, layout: Layout) -> List:
    """The layer loop of mmseg's ``VisionTransformer.forward``, from the embedded tokens on.

    Args:
        vit: an mmseg ``VisionTransformer`` (or MSViT): ``pre_norm``/``pre_ln``, ``layers``,
            ``final_norm``/``norm1``, ``out_indices``, ``out_origin``, ``output_cls_token``.
        x: embedded tokens (position embeddings added) in ``layout``.
        layout: a :mod:`msvit_mm.ops.layouts` layout.

    Returns:
        [B, C, Hv, Wv] maps (``[map, cls [B, C]]`` with ``output_cls_token``): the input
        tokens first with ``out_origin``, then one per ``out_indices`` layer.
    """
    def output(x: Tensor):
        dense = layout.to_map(x)
        return [dense, layout.first_tokens(x)] if vit.output_cls_token else dense

    if vit.pre_norm:
        x = vit.pre_ln(x)
    outs = [output(x)] if vit.out_origin else []
    last = len(vit.layers) - 1
    for i, layer in enumerate(vit.layers):
        x = layer_forward(layer, x, layout)
        if i == last and vit.final_norm:
            x = vit.norm1(x)
        if i in vit.out_indices:
            outs.append(output(x))
    return outs
