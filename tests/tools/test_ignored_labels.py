"""A training set whose every label is ignored is refused before training (every file read
up to 64 files, a warning from a sample of a larger set); the files are only read."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from msvit_mm.datasets.checks import check_labels
from msvit_mm.engine.cli import check_dataloaders


def _dataset(root: str, labels) -> dict:
    """An ADE20K-layout set with one 8x8 image per label array."""
    for sub in ('images/training', 'annotations/training'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    for i, label in enumerate(labels):
        image = np.zeros((8, 8, 3), np.uint8)
        cv2.imwrite(osp.join(root, 'images/training', f'{i:03d}.jpg'), image)
        cv2.imwrite(osp.join(root, 'annotations/training', f'{i:03d}.png'), label)
    return dict(type='ADE20KDataset', data_root=root,
                data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'))


def _full(value: int) -> np.ndarray:
    return np.full((8, 8), value, np.uint8)


def test_all_ignored_labels_are_refused_naming_the_folder(tmp_path):
    # ADE20K: reduce_zero_label=True, so raw 0 and 255 are both ignored
    cfg = _dataset(str(tmp_path / 'ade'), [_full(0), _full(255), _full(0)])
    with pytest.raises(ValueError, match='none of the 3 label maps') as err:
        check_labels(cfg)
    assert osp.join(str(tmp_path / 'ade'), 'annotations/training') in str(err.value)
    assert 'reduce_zero_label' in str(err.value)
    with pytest.raises(ValueError, match='holds a labelled pixel'):
        check_dataloaders(Config(dict(train_dataloader=dict(dataset=cfg))))
    before = open(osp.join(cfg['data_root'], 'annotations/training/000.png'), 'rb').read()
    check_labels(dict(cfg, reduce_zero_label=False))  # raw 0 is a class then
    assert open(osp.join(cfg['data_root'], 'annotations/training/000.png'), 'rb').read() == before


def test_one_labelled_pixel_is_enough(tmp_path):
    label = _full(0)
    label[3, 4] = 7
    check_labels(_dataset(str(tmp_path / 'ade'), [_full(0), label]))


def test_a_large_set_is_sampled_and_warns(tmp_path):
    cfg = _dataset(str(tmp_path / 'ade'), [_full(0)] * 6)
    with pytest.warns(UserWarning, match='none of the 2 sampled of the 6 label maps'):
        check_labels(cfg, max_exact=4, num_sampled=2)
    # validation and test sets are not checked (a set for predictions only may be unlabelled)
    check_dataloaders(Config(dict(val_dataloader=dict(dataset=cfg))))
