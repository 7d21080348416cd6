"""check_data_root: a missing or empty dataset folder is named, with how to prepare it."""
import os.path as osp

import pytest

from msvit_mm.datasets import check_data_root, make_synthetic_ade20k
from msvit_mm.datasets.checks import check_dataset

PREFIX = dict(img_path='images/training', seg_map_path='annotations/training')


def test_missing_data_root_names_path_and_how_to_prepare(tmp_path):
    missing = str(tmp_path / 'nowhere' / 'ADEChallengeData2016')
    with pytest.raises(FileNotFoundError) as err:
        check_data_root(missing, PREFIX)
    msg = str(err.value)
    assert missing in msg
    assert 'make_synthetic_ade20k.py' in msg and 'ADEChallengeData2016.zip' in msg


def test_missing_prefix_folder_is_named(tmp_path):
    (tmp_path / 'images' / 'training').mkdir(parents=True)
    (tmp_path / 'images' / 'training' / 'a.jpg').write_bytes(b'')
    with pytest.raises(FileNotFoundError, match=r"seg_map_path='annotations/training'"):
        check_data_root(str(tmp_path), PREFIX)


def test_image_folder_without_images_is_refused(tmp_path):
    for sub in PREFIX.values():
        (tmp_path / sub).mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r'holds no \*\.jpg'):
        check_data_root(str(tmp_path), PREFIX)


def test_complete_set_passes(tmp_path):
    info = make_synthetic_ade20k(str(tmp_path), num_train=1, num_val=1, size=(32, 32))
    resolved = check_data_root(info['data_root'], PREFIX)
    assert resolved['img_path'] == osp.join(info['data_root'], 'images', 'training')
    assert check_data_root(info['data_root']) == {}
    absolute = {k: osp.join(info['data_root'], v) for k, v in PREFIX.items()}
    assert check_data_root(None, absolute) == absolute


def _png_dataset(root, img='_leftImg8bit.png', seg='_gtFine_labelTrainIds.png'):
    for sub, suffix in (('leftImg8bit/train/a', img), ('gtFine/train/a', seg)):
        (root / sub).mkdir(parents=True)
        (root / sub / f'x{suffix}').write_bytes(b'')
    return dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train')


def test_dataset_suffixes_from_the_class_defaults(tmp_path):
    """Cityscapes (.png images, no .jpg) passes: the suffixes come from CityscapesDataset."""
    prefix = _png_dataset(tmp_path)
    check_dataset(dict(type='CityscapesDataset', data_root=str(tmp_path), data_prefix=prefix))
    with pytest.raises(FileNotFoundError, match=r"holds no \*_gtFine_labelTrainIds.png") as err:
        check_dataset(dict(type='CityscapesDataset', data_root=str(tmp_path),
                           data_prefix=dict(prefix, seg_map_path='leftImg8bit/train')))
    msg = str(err.value)
    assert 'CityscapesDataset' in msg and 'ADEChallengeData2016.zip' not in msg


def test_dataset_suffixes_from_the_config(tmp_path):
    """PNG copies of ADE20K: img_suffix='.png' in the config is followed."""
    prefix = _png_dataset(tmp_path, img='.png', seg='.png')
    cfg = dict(type='ADE20KDataset', data_root=str(tmp_path), data_prefix=prefix)
    with pytest.raises(FileNotFoundError, match=r'holds no \*\.jpg.*ADEChallengeData2016.zip'):
        check_dataset(cfg)
    check_dataset(dict(cfg, img_suffix='.png'))


def test_dataset_wrappers_are_checked(tmp_path):
    inner = dict(type='ADE20KDataset', data_root=str(tmp_path / 'missing'),
                 data_prefix=PREFIX)
    with pytest.raises(FileNotFoundError, match='missing'):
        check_dataset(dict(type='RepeatDataset', times=2, dataset=inner))
    with pytest.raises(FileNotFoundError, match='missing'):
        check_dataset(dict(type='ConcatDataset', datasets=[inner]))
