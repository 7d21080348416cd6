"""mmseg's ADE20KDataset reads the synthetic set through the checked transforms; bad files fail
with errors that name them."""
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import torch

import msvit_mm  # noqa: F401  (registers the transforms)
from mmcv.transforms import LoadImageFromFile
from mmengine.registry import init_default_scope
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import DATASETS, TRANSFORMS

from msvit_mm.datasets import make_synthetic_ade20k

PIPELINE = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations', num_classes=150),
    dict(type='PackSegInputs'),
]


@pytest.fixture(scope='module', autouse=True)
def mmseg_scope():
    """The datasets' pipelines resolve types in the default scope, as the Runner sets it."""
    init_default_scope('mmseg')


@pytest.fixture(scope='module')
def ade_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('ade'))
    make_synthetic_ade20k(root, num_train=6, num_val=4, size=(64, 64), seed=0)
    return osp.join(root, 'ADEChallengeData2016')


def _dataset(data_root: str, split: str = 'training', pipeline=None):
    return DATASETS.build(dict(
        type='ADE20KDataset', data_root=data_root, reduce_zero_label=True,
        data_prefix=dict(img_path=f'images/{split}', seg_map_path=f'annotations/{split}'),
        pipeline=pipeline or PIPELINE))


def _copy_set(ade_root: str, tmp_path) -> str:
    dst = str(tmp_path / 'ADEChallengeData2016')
    shutil.copytree(ade_root, dst)
    return dst


def test_ade20k_dataset_reads_the_set(ade_root):
    for split, num in (('training', 6), ('validation', 4)):
        ds = _dataset(ade_root, split)
        assert len(ds) == num
        seen = set()
        for i in range(num):
            sample = ds[i]
            seg = sample['data_samples'].gt_sem_seg.data
            assert sample['inputs'].shape == (3, 64, 64) and seg.shape == (1, 64, 64)
            values = set(torch.unique(seg).tolist())
            assert values <= set(range(150)) | {255}
            seen |= values
        assert len(seen - {255}) >= 3  # several classes, reduce_zero_label applied (ids - 1)


def test_checked_transforms_match_stock_ones(ade_root):
    name = 'ADE_val_00000001'
    results = dict(img_path=osp.join(ade_root, 'images', 'validation', name + '.jpg'),
                   seg_map_path=osp.join(ade_root, 'annotations', 'validation', name + '.png'),
                   reduce_zero_label=True, seg_fields=[])
    ours = TRANSFORMS.build(dict(type='CheckedLoadAnnotations'))(
        TRANSFORMS.build(dict(type='CheckedLoadImageFromFile'))(dict(results, seg_fields=[])))
    stock = LoadAnnotations()(LoadImageFromFile()(dict(results, seg_fields=[])))
    np.testing.assert_array_equal(ours['img'], stock['img'])
    np.testing.assert_array_equal(ours['gt_seg_map'], stock['gt_seg_map'])
    raw = cv2.imread(results['seg_map_path'], cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(ours['gt_seg_map'], np.where(raw == 0, 255, raw - 1))


def _first(data_root: str, sub: str, ext: str) -> str:
    folder = osp.join(data_root, sub, 'training')
    return osp.join(folder, sorted(f for f in os.listdir(folder) if f.endswith(ext))[0])


@pytest.mark.parametrize('damage', ['garbage', 'truncate', 'empty'])
def test_corrupted_image_names_the_file(ade_root, tmp_path, damage):
    root = _copy_set(ade_root, tmp_path)
    path = _first(root, 'images', '.jpg')
    data = open(path, 'rb').read()
    data = {'garbage': b'\0' * 64 + data[64:], 'truncate': data[:len(data) // 2],
            'empty': b''}[damage]
    open(path, 'wb').write(data)
    with pytest.raises(OSError, match=osp.basename(path)):
        _dataset(root)[0]


def test_truncated_label_png_names_the_file(ade_root, tmp_path):
    root = _copy_set(ade_root, tmp_path)
    path = _first(root, 'annotations', '.png')
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])
    with pytest.raises(OSError, match=osp.basename(path)):
        _dataset(root)[0]


def test_missing_label_names_the_file(ade_root, tmp_path):
    root = _copy_set(ade_root, tmp_path)
    ds = _dataset(root)
    path = _first(root, 'annotations', '.png')
    os.remove(path)
    with pytest.raises(FileNotFoundError, match=osp.basename(path)):
        ds[0]


def test_label_value_out_of_range_names_file_and_value(ade_root, tmp_path):
    root = _copy_set(ade_root, tmp_path)
    path = _first(root, 'annotations', '.png')
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    label[10:14, 10:14] = 200
    cv2.imwrite(path, label)
    with pytest.raises(ValueError, match=osp.basename(path)) as err:
        _dataset(root)[0]
    assert '200' in str(err.value)
    label[10:14, 10:14] = 150  # the largest valid raw ADE20K id
    cv2.imwrite(path, label)
    sample = _dataset(root)[0]
    assert sample['data_samples'].gt_sem_seg.data[0, 10, 10] == 149


def test_colour_label_16bit_label_and_size_mismatch_are_refused(ade_root, tmp_path):
    root = _copy_set(ade_root, tmp_path)
    path = _first(root, 'annotations', '.png')
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    cv2.imwrite(path, np.dstack([label] * 3))
    with pytest.raises(ValueError, match='single-channel'):
        _dataset(root)[0]
    wide = label.astype(np.uint16)
    wide[0, 0] = 300 + 1  # wraps to 45 under mmseg's uint8 cast
    cv2.imwrite(path, wide)
    with pytest.raises(ValueError, match='16-bit png with values above 255'):
        _dataset(root)[0]
    cv2.imwrite(path, label.astype(np.uint16))  # 16-bit but in range: accepted
    assert _dataset(root)[0]['data_samples'].gt_sem_seg.data.shape == (1, 64, 64)
    cv2.imwrite(path, label[:32])
    with pytest.raises(ValueError, match='32x64 but its image'):
        _dataset(root)[0]


def test_num_classes_argument_is_checked(ade_root):
    with pytest.raises(ValueError, match='num_classes'):
        TRANSFORMS.build(dict(type='CheckedLoadAnnotations', num_classes=0))
    ds = _dataset(ade_root, pipeline=[dict(type='CheckedLoadImageFromFile'),
                                      dict(type='CheckedLoadAnnotations', num_classes=3),
                                      dict(type='PackSegInputs')])
    with pytest.raises(ValueError, match='outside the 3 classes'):
        for i in range(len(ds)):
            ds[i]


@pytest.mark.parametrize('hw', [(1, 7), (5, 1), (1, 1)])
def test_one_pixel_high_or_wide_label_is_valid(tmp_path, hw):
    """mmseg squeezes a 1-pixel side away; the checked loader gives the [H, W] map back."""
    img, seg = str(tmp_path / 'a.jpg'), str(tmp_path / 'a.png')
    cv2.imwrite(img, np.full((*hw, 3), 128, np.uint8))
    label = (np.arange(hw[0] * hw[1]).reshape(hw) % 5 + 1).astype(np.uint8)
    cv2.imwrite(seg, label)
    pipeline = [TRANSFORMS.build(t) for t in PIPELINE]
    results = dict(img_path=img, seg_map_path=seg, reduce_zero_label=True, seg_fields=[])
    for t in pipeline[:2]:
        results = t(results)
    np.testing.assert_array_equal(results['gt_seg_map'], label - 1)
    packed = pipeline[2](results)
    assert packed['data_samples'].gt_sem_seg.data.shape == (1, *hw)


def test_annotation_loader_without_a_label_is_a_no_op(ade_root):
    """As in mmseg's inference API: the sample has an image and no seg_map_path."""
    img = osp.join(ade_root, 'images', 'validation', 'ADE_val_00000001.jpg')
    results = TRANSFORMS.build(dict(type='CheckedLoadImageFromFile'))(dict(img_path=img))
    out = TRANSFORMS.build(dict(type='CheckedLoadAnnotations'))(dict(results))
    assert 'gt_seg_map' not in out and out['img'].shape == (64, 64, 3)
