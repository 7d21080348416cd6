"""The encoder of mmseg's ``VisionTransformer`` on tokens in any layout (``msvit_mm.ops.layouts``).

The layers' own submodules (``ln1``, ``attn``, ``ln2``, ``ffn``) are used, so parameter
names and values are mmseg's; attention and stochastic depth are the layout's (fused
``scaled_dot_product_attention``; one draw per image, whatever the layout).
"""
from typing import Any, Callable, List, Optional

import torch.utils.checkpoint as cp
from torch import Tensor, nn

from ...ops.layouts import Layout


def branch_dropout(x: Tensor, dropout_layer: nn.Module, layout: Layout) -> Tensor:
    """A residual branch's ``dropout_layer`` on its output ``x``.

    Stochastic depth (a layer with ``drop_prob``: mmcv's ``DropPath``, which mmseg's ViT puts
    on the FFN branch) is the layout's, one draw per image; elementwise dropout (mmcv's
    ``Dropout``, on the attention branch, p = 0 in mmseg's ViT) or ``nn.Identity`` runs as is.
    """
    drop_prob = getattr(dropout_layer, 'drop_prob', None)
    if drop_prob is None:
        return dropout_layer(x)
    return layout.drop_path(x, float(drop_prob) if dropout_layer.training else 0.)


def layer_forward(layer: nn.Module, x: Tensor, layout: Layout) -> Tensor:
    """One encoder layer (an mmseg ``TransformerEncoderLayer``) on ``x`` in ``layout``.

    ``x``: [B, N, C] (grid and masked layouts) or [T, C] (packed); returns the same shape.
    """
    mha, ffn = layer.attn, layer.ffn
    attn_p = mha.attn.dropout if mha.training else 0.

    def inner(x: Tensor) -> Tensor:
        a = layout.attention(layer.ln1(x), mha.attn, attn_p)
        x = x + branch_dropout(mha.proj_drop(a), mha.dropout_layer, layout)
        f = ffn.gamma2(ffn.layers(layer.ln2(x)))
        return x + branch_dropout(f, ffn.dropout_layer, layout)

    if layer.with_cp and x.requires_grad:
        return cp.checkpoint(inner, x, use_reentrant=False)
    return inner(x)


def run_layers(vit: nn.Module, x: Tensor, layout: Layout,
               output: Optional[Callable[[Tensor, Layout], Any]] = None) -> List:
    """The layer loop of mmseg's ``VisionTransformer.forward``, from the embedded tokens on.

    Args:
        vit: an mmseg ``VisionTransformer`` (or MSViT): ``pre_norm``/``pre_ln``, ``layers``,
            ``final_norm``/``norm1``, ``out_indices``, ``out_origin``, ``output_cls_token``.
        x: embedded tokens (position embeddings added) in ``layout``.
        layout: a :class:`~msvit_mm.ops.layout_protocol.Layout`.
        output: what an output is made of, ``output(tokens, layout)``; None: mmseg's.

    Returns:
        [B, C, Hv, Wv] maps (``[map, cls [B, C]]`` with ``output_cls_token``), or what
        ``output`` makes: the input tokens first with ``out_origin``, then one per
        ``out_indices`` layer.
    """
    def mmseg_output(x: Tensor, layout: Layout):
        dense = layout.to_map(x)
        return [dense, layout.first_tokens(x)] if vit.output_cls_token else dense

    output = output or mmseg_output

    if vit.pre_norm:
        x = vit.pre_ln(x)
    outs = [output(x, layout)] if vit.out_origin else []
    last = len(vit.layers) - 1
    for i, layer in enumerate(vit.layers):
        x = layer_forward(layer, x, layout)
        if i == last and vit.final_norm:
            x = vit.norm1(x)
        if i in vit.out_indices:
            outs.append(output(x, layout))
    return outs
