"""Tiny mmpretrain ViT classifiers and MSViT classifiers with the same architecture."""
import re
from typing import Dict, Optional

import torch
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import msvit_mm.classification  # noqa: F401  (registers MSViTCls, MSViTImageClassifier)

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
NUM_CLASSES = 5


def head_cfg(kind: str = 'VisionTransformerClsHead') -> dict:
    return dict(type=kind, num_classes=NUM_CLASSES, in_channels=ARCH['embed_dims'])


def build(cfg: dict):
    """Build in mmpretrain's default scope, as a classification config does."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


def pretrain_classifier(out_type: str = 'cls_token', head: Optional[dict] = None,
                        seed: int = 0):
    """mmpretrain's own ImageClassifier (VisionTransformer) at tiny width, random weights
    everywhere (head and position embeddings included), in eval mode."""
    torch.manual_seed(seed)
    model = build(dict(type='ImageClassifier', backbone=dict(
        type='VisionTransformer', arch=ARCH, img_size=64, patch_size=16, out_type=out_type),
        head=head or head_cfg()))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2) if p.dim() > 1 else p.uniform_(-0.5, 0.5)
        for name, p in model.named_parameters():
            if re.search(r'(ln\d|norm)\.weight$', name):
                p.uniform_(0.5, 1.5)
    return model.eval()


def msvit_classifier(gate: Optional[dict] = None, out_type: str = 'cls_token',
                     head: Optional[dict] = None, **kwargs):
    """MSViTImageClassifier with MSViTCls at the same tiny architecture."""
    backbone = dict(type='MSViTCls', arch=ARCH, img_size=64, out_type=out_type,
                    gate=gate or dict(type='FixedGate', coarse=False))
    backbone.update(kwargs.pop('backbone', {}))
    return build(dict(type='MSViTImageClassifier', backbone=backbone,
                      head=head or head_cfg(), **kwargs))


TIMM = [(r'^backbone\.patch_embed\.projection\.', 'patch_embed.proj.'),
        (r'^backbone\.layers\.(\d+)\.ln(1|2)\.', r'blocks.\1.norm\2.'),
        (r'^backbone\.layers\.(\d+)\.attn\.', r'blocks.\1.attn.'),
        (r'^backbone\.layers\.(\d+)\.ffn\.layers\.0\.0\.', r'blocks.\1.mlp.fc1.'),
        (r'^backbone\.layers\.(\d+)\.ffn\.layers\.1\.', r'blocks.\1.mlp.fc2.'),
        (r'^backbone\.ln1\.', 'norm.'), (r'^backbone\.', ''),
        (r'^head\.layers\.head\.', 'head.')]


def as_timm(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """An mmpretrain ViT classifier state dict under timm / DeiT names."""
    out = {}
    for key, value in state.items():
        for pattern, repl in TIMM:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out
