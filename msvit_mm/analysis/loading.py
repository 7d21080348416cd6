"""Models and validation images for the analysis tools, as inference sees them.

``load_config`` is the tools' one config loader (``msvit_mm.engine.cli``), here for the
analysis tools' imports.
"""
from typing import Iterator, Optional

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch import Tensor, nn

from ..datasets.checks import check_dataset
from ..engine.checkpoints import load_weights_strict
from ..engine.cli import load_config

__all__ = ['build_model', 'build_val_dataset', 'has_learned_gate', 'is_classification',
           'load_config', 'registry',
           'preprocessed', 'preprocessed_inputs']


def build_model(cfg: Config, checkpoint: Optional[str] = None) -> nn.Module:
    """The config's segmentor in eval mode on CPU, with ``checkpoint``'s weights if given.

    No pretrained backbone file is read (``model.pretrained`` and ``init_cfg`` are cleared);
    SyncBN becomes BN. A missing checkpoint is named; one that does not hold exactly the
    model's weights (another config's, a backbone-only file) is refused, naming the keys
    (``msvit_mm.engine.checkpoints.check_weights_fit``), so that no number is ever reported
    for random weights.
    """
    from mmengine.model import revert_sync_batchnorm

    cfg.model.pretrained = None
    cfg.model.backbone.init_cfg = None
    if is_classification(cfg):  # the classifier's own Pretrained entry (head included)
        cfg.model.init_cfg = None
    if cfg.get('data_preprocessor') and not cfg.model.get('data_preprocessor'):
        cfg.model.data_preprocessor = cfg.data_preprocessor  # as the Runner does (mmpretrain)
    model = registry(cfg, 'MODELS').build(cfg.model)
    if checkpoint is not None:
        load_weights_strict(model, checkpoint, map_location='cpu')
    model = revert_sync_batchnorm(model)
    model.eval()
    return model


def is_classification(cfg: Config) -> bool:
    """Whether ``cfg`` is an mmpretrain (classification) config: ``default_scope='mmpretrain'``."""
    return cfg.get('default_scope', 'mmseg') == 'mmpretrain'


def registry(cfg: Config, name: str):
    """mmseg's registry ``name`` ('MODELS', 'DATASETS'), mmpretrain's for a classification
    config (imported only then)."""
    if is_classification(cfg):
        import mmpretrain.registry as registries
    else:
        import mmseg.registry as registries
    return getattr(registries, name)


def has_learned_gate(model: nn.Module) -> bool:
    """Whether ``model`` (a segmentor or a backbone) has an MSViT gate with learned parameters."""
    backbone = getattr(model, 'backbone', model)
    gate = getattr(getattr(backbone, 'tokenizer', None), 'gate', None)
    return bool(getattr(gate, 'learned', False))


def build_val_dataset(cfg: Config, hint: str = ''):
    """The config's validation dataset; a missing folder is named with how to prepare it."""
    return _build_dataset(cfg.val_dataloader.dataset, hint, registry(cfg, 'DATASETS'))


def build_train_images(cfg: Config, hint: str = ''):
    """The config's training images, loaded as inference loads them (the validation
    pipeline: no augmentation), e.g. to calibrate a gate's threshold on them."""
    return _build_dataset(dict(cfg.train_dataloader.dataset,
                               pipeline=cfg.val_dataloader.dataset.pipeline), hint,
                          registry(cfg, 'DATASETS'))


def _build_dataset(dataset_cfg, hint: str, datasets):
    check = check_dataset
    if datasets.scope == 'mmpretrain':
        from ..classification.data_checks import check_cls_dataset as check
    try:
        check(dataset_cfg)
    except FileNotFoundError as err:
        raise FileNotFoundError(f'{err}{(" " + hint) if hint else ""}') from None
    dataset = datasets.build(dataset_cfg)
    if len(dataset) == 0:
        raise RuntimeError(f"the data set under {dataset_cfg.get('data_root')} is empty")
    return dataset


def preprocessed(model: nn.Module, dataset, num: int, batch_size: int = 1) -> Iterator[dict]:
    """The first ``num`` samples as inference sees them, ``batch_size`` at a time.

    The data preprocessor stacks a test batch only when the image sizes agree, so a batch
    holds images of one size: consecutive images of equal size go together; a size's last
    batch may be smaller (those come at the end, in the order the sizes first appeared).

    Yields ``dict(inputs=[B, 3, H, W] normalized, data_samples=[SegDataSample] * B)``.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size={batch_size} must be >= 1')
    pending: dict = {}  # image size -> samples not yet yielded

    def collate(samples: list) -> dict:
        with torch.no_grad():
            return model.data_preprocessor(pseudo_collate(samples), training=False)

    for i in range(min(num, len(dataset))):
        sample = dataset[i]
        group = pending.setdefault(tuple(sample['inputs'].shape[-2:]), [])
        group.append(sample)
        if len(group) == batch_size:
            yield collate(group)
            group.clear()
    for group in pending.values():
        if group:
            yield collate(group)


def preprocessed_inputs(model: nn.Module, dataset, num: int) -> Iterator[Tensor]:
    """Only the normalized [1, 3, H, W] inputs of :func:`preprocessed`."""
    for batch in preprocessed(model, dataset, num):
        yield batch['inputs']
