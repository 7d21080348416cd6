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
                        seed: int = 0, with_cls_token: bool = True):
    """mmpretrain's own ImageClassifier (VisionTransformer) at tiny width, random weights
    everywhere (head and position embeddings included), in eval mode."""
    torch.manual_seed(seed)
    model = build(dict(type='ImageClassifier', backbone=dict(
        type='VisionTransformer', arch=ARCH, img_size=64, patch_size=16, out_type=out_type,
        with_cls_token=with_cls_token),
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


REPO = __file__.rsplit('/tests/', 1)[0]
CLASSES = ('disc', 'bars', 'flat')


def write_images(root, per_class: int = 2, size: int = 64, seed: int = 0) -> str:
    """A tiny ``CustomDataset`` (``root/{train,val}/<class>/<i>.png``): a bright disc, stripes,
    or a flat image on noise; returns ``root``."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    for split in ('train', 'val'):
        for c, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                img = rng.integers(0, 60, (size, size, 3)).astype(np.float64)
                if c == 0:
                    img[(yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 4) ** 2] = 250
                elif c == 1:
                    img[(xx // 8) % 2 == 0] += 150
                else:
                    img[:] = 128
                Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(folder / f'{i}.png')
    return str(root)


def write_tiny_config(tmp_path, data_root: str, checkpoint: Optional[str] = None) -> str:
    """The MSViT-Ti ImageNet config shrunk to the tiny data (2 iterations, tiny widths,
    64x64), starting from ``checkpoint`` (a classifier file) if given; returns its path."""
    init = None if checkpoint is None else dict(_delete_=True, type='Pretrained',
                                                checkpoint=checkpoint)
    text = f'''
_base_ = ['{REPO}/configs/msvit_cls/msvit-t_4xb256-20e_in1k.py']
model = dict(
    backbone=dict(arch=dict(_delete_=True, **{ARCH!r}), img_size=64),
    head=dict(num_classes=3, in_channels={ARCH['embed_dims']}),
    gate_loss=dict(grid_size=(2, 2)),
    init_cfg={init!r})
data_preprocessor = dict(num_classes=3)
train_pipeline = [dict(type='LoadImageFromFile'),
                  dict(type='RandomResizedCrop', scale=64, backend='pillow'),
                  dict(type='PackInputs')]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='ResizeEdge', scale=64, edge='short'),
                 dict(type='CenterCrop', crop_size=64), dict(type='PackInputs')]
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = dict(loader, dataset=dict(_delete_=True, type='CustomDataset',
    data_root='{data_root}', data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(loader, dataset=dict(_delete_=True, type='CustomDataset',
    data_root='{data_root}', data_prefix='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1,))
test_evaluator = val_evaluator
train_cfg = dict(_delete_=True, by_epoch=False, max_iters=2, val_interval=2)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, end=2)]
log_processor = dict(by_epoch=False)  # validation logged at its iteration
default_hooks = dict(logger=dict(interval=1, log_metric_by_epoch=False),
                     checkpoint=dict(interval=2, by_epoch=False))
'''
    path = tmp_path / 'tiny_msvit_cls.py'
    path.write_text(text)
    return str(path)
