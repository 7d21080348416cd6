"""Image files read as a classification config's test pipeline reads them (mmpretrain), for
``tools/analysis_tools/visualize_gates.py``: the class names, an image's class (its folder in
a ``CustomDataset`` layout) and the gate picture of one file."""
import os
import os.path as osp
from typing import List, Optional

import numpy as np
import torch
from mmengine.dataset import Compose, pseudo_collate
from torch import nn

from .gate_vis import classifier_picture

__all__ = ['ClassImageFiles']


class ClassImageFiles:
    """The test pipeline of ``dataset_cfg`` (a classification config's
    ``test_dataloader.dataset``) and its class names: the dataset's ``classes`` (a list or
    a file of one name a line), else the folder names under ``data_root/data_prefix``
    (``CustomDataset``'s folder mode), else indices."""

    def __init__(self, dataset_cfg: dict) -> None:
        self.pipeline = Compose(list(dataset_cfg.pipeline))
        self.classes = self._classes(dataset_cfg)

    @staticmethod
    def _classes(dataset_cfg: dict) -> List[str]:
        classes = dataset_cfg.get('classes') or (dataset_cfg.get('metainfo') or {}).get('classes')
        if isinstance(classes, str):
            path = osp.join(dataset_cfg.get('data_root') or '', classes)
            with open(path if osp.isfile(path) else classes) as f:
                return [line.strip() for line in f if line.strip()]
        if classes:
            return list(classes)
        prefix = dataset_cfg.get('data_prefix') or ''
        prefix = prefix.get('img_path', '') if isinstance(prefix, dict) else prefix
        folder = osp.join(dataset_cfg.get('data_root') or '', prefix)
        if osp.isdir(folder):
            return sorted(d for d in os.listdir(folder)
                          if osp.isdir(osp.join(folder, d)))
        return []

    def class_of(self, img_path: str) -> Optional[str]:
        """The image's folder name when it is one of the classes, else None."""
        parent = osp.basename(osp.dirname(osp.abspath(img_path)))
        return parent if parent in self.classes else None

    def gate_figure(self, model: nn.Module, img_path: str) -> np.ndarray:
        """[image + layout] with its caption (prediction, true class), uint8 RGB."""
        data = self.pipeline(dict(img_path=img_path))
        with torch.no_grad():
            batch = model.data_preprocessor(pseudo_collate([data]), training=False)
        return classifier_picture(model, batch, self.classes, self.class_of(img_path))
