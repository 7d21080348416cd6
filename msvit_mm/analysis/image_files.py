"""Image files outside a dataset, read as the config's test pipeline reads them.

For ``tools/analysis_tools/visualize_gates.py``: the ADE20K-layout label file of an image,
the test pipeline with and without the label loader, the dataset's ``reduce_zero_label`` and
palette, and the gate picture of one file.
"""
import inspect
import os
import os.path as osp
from typing import Optional

import numpy as np
import torch
from mmengine.dataset import Compose, pseudo_collate
from torch import nn

from .gate_vis import gate_picture

__all__ = ['ImageFiles', 'label_path']


def label_path(img_path: str, suffix: str = '.png') -> Optional[str]:
    """The ADE20K-layout label file of an image (``.../images/<split>/x.jpg`` ->
    ``.../annotations/<split>/x<suffix>``), if it exists."""
    parts = osp.abspath(img_path).split(os.sep)
    if 'images' not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index('images')
    parts[i] = 'annotations'
    path = osp.splitext(os.sep.join(parts))[0] + suffix
    return path if osp.isfile(path) else None


def _is_annotation_loader(step: dict) -> bool:
    return 'LoadAnnotations' in str(step.get('type'))


class ImageFiles:
    """The test pipeline of ``dataset_cfg`` (a config's ``test_dataloader.dataset``) for image
    files: with the label loader when the file has a label, without it otherwise."""

    def __init__(self, dataset_cfg: dict) -> None:
        from mmseg.registry import DATASETS

        steps = list(dataset_cfg.pipeline)
        self.with_label = Compose(steps)
        self.without_label = Compose([s for s in steps if not _is_annotation_loader(s)])
        self.seg_map_suffix = dataset_cfg.get('seg_map_suffix', '.png')
        dataset_cls = DATASETS.get(dataset_cfg['type'])
        self.reduce_zero_label = self._reduce_zero_label(dataset_cfg, steps, dataset_cls)
        meta = dataset_cfg.get('metainfo') or {}
        self.palette = np.asarray(meta.get('palette') or dataset_cls.METAINFO['palette'],
                                  dtype=np.uint8)

    @staticmethod
    def _reduce_zero_label(dataset_cfg: dict, steps: list, dataset_cls) -> bool:
        """What the dataset would pass the annotation loader as ``reduce_zero_label``."""
        for step in steps:
            if _is_annotation_loader(step) and step.get('reduce_zero_label') is not None:
                return bool(step['reduce_zero_label'])
        if 'reduce_zero_label' in dataset_cfg:
            return bool(dataset_cfg['reduce_zero_label'])
        default = inspect.signature(dataset_cls).parameters.get('reduce_zero_label')
        return bool(default.default) if default is not None else False

    def label_of(self, img_path: str) -> Optional[str]:
        return label_path(img_path, self.seg_map_suffix)

    def gate_figure(self, model: nn.Module, img_path: str) -> np.ndarray:
        """[image + layout | ground truth (if the file has a label) | prediction], uint8 RGB."""
        label = self.label_of(img_path)
        pipeline = self.with_label if label else self.without_label
        data = pipeline(dict(img_path=img_path, seg_map_path=label, seg_fields=[],
                             reduce_zero_label=self.reduce_zero_label, label_map=None))
        with torch.no_grad():
            batch = model.data_preprocessor(pseudo_collate([data]), training=False)
        return gate_picture(model, batch, self.palette, with_label=label is not None)
