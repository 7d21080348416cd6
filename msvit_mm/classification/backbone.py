"""MSViTCls: MSViT as an mmpretrain backbone (mmpretrain's ``out_type`` outputs)."""
from typing import Optional, Union

import torch
from mmcv.cnn import build_norm_layer
from mmengine.registry import DefaultScope
from mmpretrain.models.backbones import VisionTransformer as PretrainViT
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from ..models.backbones.msvit import MSViT
from ..models.tokenizers.mixed_scale_tokens import QUERY_EXECUTIONS, MixedScaleTokens
from ..models.backbones.layer_forward import run_layers
from ..ops.layouts import Layout, MaskedLayout
from .weighted_layout import KeyWeightedLayout

OUT_TYPES = ('cls_token', 'featmap', 'avg_featmap', 'raw')


def arch_settings(arch: Union[str, dict]) -> dict:
    """mmpretrain's ``arch`` (a name of its ``VisionTransformer.arch_zoo``, e.g.
    'deit-small', or a dict with ``embed_dims``, ``num_layers``, ``num_heads``,
    ``feedforward_channels``) -> mmseg's arguments (``mlp_ratio`` instead of channels)."""
    if isinstance(arch, str):
        zoo = PretrainViT.arch_zoo
        if arch.lower() not in zoo:
            raise ValueError(f'arch={arch!r} is not one of mmpretrain\'s ViT archs '
                             f'{sorted(zoo)}')
        arch = zoo[arch.lower()]
    need = {'embed_dims', 'num_layers', 'num_heads', 'feedforward_channels'}
    if not isinstance(arch, dict) or not need <= set(arch):
        raise ValueError(f'arch must be an mmpretrain ViT arch name or a dict with {sorted(need)}, '
                         f'got {arch!r}')
    dims, ffn = arch['embed_dims'], arch['feedforward_channels']
    if ffn % dims:
        raise ValueError(f'arch: feedforward_channels={ffn} must be a multiple of '
                         f'embed_dims={dims} (mmseg layers take an integer mlp_ratio)')
    return dict(embed_dims=dims, num_layers=arch['num_layers'], num_heads=arch['num_heads'],
                mlp_ratio=ffn // dims)


@MODELS.register_module()
class MSViTCls(MSViT):
    """MSViT (``msvit_mm.models.backbones.MSViT``) with mmpretrain's ViT outputs.

    Takes MSViT's arguments (mmseg's ViT names, plus ``coarse_patch_size``, ``gate``,
    ``execution``, ...), with mmpretrain's defaults (``final_norm=True``, LayerNorm eps 1e-6,
    ``patch_bias=True``, ``img_size=224``), and:

    Args:
        arch: optional mmpretrain arch name ('deit-small', 'deit-tiny', 'b', ...) or dict;
            sets ``embed_dims``, ``num_layers``, ``num_heads``, ``mlp_ratio``.
        out_type: what each output at ``out_indices`` is, as mmpretrain's
            ``VisionTransformer``: 'cls_token' [B, C] (read from the token layout, no map),
            'featmap' [B, C, Hv, Wv] (coarse tokens repeated over their cells),
            'avg_featmap' [B, C] (the map's mean, each pixel counted once, then ``ln2``),
            'raw' [B, 1 + Hv * Wv, C] (cls token, then the map's cells in raster order).

    Executions 'auto' (masked while the gate learns, packed otherwise), 'masked' and
    'packed' (the query-token executions serve dense outputs and are refused). While a
    learned gate learns in masked execution, the
    attention weighs each key by its straight-through decision (value unchanged), so a
    cls-token head's loss reaches the gate (``KeyWeightedLayout``).
    The tokenizer, gate and losses are mmseg-registered parts: they are built in mmseg's
    scope whatever the config's ``default_scope``.
    """

    # 'auto' runs masked while the gate learns: a cls-token head reads no dense map, so its
    # loss reaches the gate only through the key-weighted masked attention
    auto_learning_execution = 'masked'

    def __init__(self, arch: Optional[Union[str, dict]] = None, out_type: str = 'cls_token',
                 img_size=224, final_norm: bool = True,
                 norm_cfg: Optional[dict] = None, patch_bias: bool = True, **kwargs):
        if out_type not in OUT_TYPES:
            raise ValueError(f'out_type={out_type!r} is not one of {OUT_TYPES}')
        if kwargs.get('execution') in QUERY_EXECUTIONS:
            raise ValueError(f"MSViTCls: execution={kwargs['execution']!r} is for dense "
                             "outputs; use 'auto', 'masked' or 'packed'")
        if kwargs.get('output_cls_token'):
            raise ValueError("MSViTCls: use out_type='cls_token', not output_cls_token")
        if out_type == 'cls_token' and not kwargs.get('with_cls_token', True):
            raise ValueError("out_type='cls_token' needs with_cls_token=True")
        if arch is not None:
            clash = sorted({'embed_dims', 'num_layers', 'num_heads', 'mlp_ratio'} & set(kwargs))
            if clash:
                raise ValueError(f'MSViTCls: give arch or {clash}, not both')
            kwargs.update(arch_settings(arch))
        norm_cfg = dict(type='LN', eps=1e-6) if norm_cfg is None else norm_cfg
        with DefaultScope.overwrite_default_scope('mmseg'):
            super().__init__(img_size=img_size, final_norm=final_norm, norm_cfg=norm_cfg,
                             patch_bias=patch_bias, **kwargs)
        self.out_type = out_type
        self.ln2 = (build_norm_layer(norm_cfg, self.embed_dims)[1]
                    if out_type == 'avg_featmap' else nn.Identity())

    @property
    def embed_dims(self) -> int:
        return self.cls_token.shape[-1]  # mmseg's ViT keeps a cls token parameter always

    def encode(self, tokens: MixedScaleTokens, prefix: Optional[Tensor],
               counterfactual: str) -> list:
        """The layers on the tokens in their layout, outputs as ``out_type`` says."""
        seq, layout = tokens.sequence(prefix, counterfactual)
        if isinstance(layout, MaskedLayout) and layout.coarse_weight.requires_grad:
            layout = KeyWeightedLayout.from_masked(layout)
        return run_layers(self, self.drop_after_pos(seq), layout, self.format_output)

    def format_output(self, x: Tensor, layout: Layout):
        """One output of tokens ``x`` in ``layout``, as ``out_type`` says (see the class)."""
        if self.out_type == 'cls_token':
            return layout.first_tokens(x)
        dense = layout.to_map(x)  # B, C, Hv, Wv
        if self.out_type == 'featmap':
            return dense
        if self.out_type == 'avg_featmap':
            return self.ln2(dense.mean((2, 3)))
        seq = dense.flatten(2).transpose(1, 2)  # B, Hv * Wv, C
        if not self.with_cls_token:
            return seq
        return torch.cat([layout.first_tokens(x)[:, None], seq], 1)
