"""The embedded object-classification set: scenes, the CustomDataset layout, the writer's safety."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from msvit_mm.datasets.object_cls_writer import META_FILE, make_object_cls, sample_files
from msvit_mm.datasets.object_scenes import (CLASS_NAMES, OBJECTS, load_object_photos,
                                             object_piece, render_object_scene)
from tests.helpers import ROOT, load_module


def _read(path):
    import cv2
    return cv2.imread(path, cv2.IMREAD_COLOR)[..., ::-1]


def _bytes(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            with open(osp.join(dirpath, f), 'rb') as fh:
                out[osp.relpath(osp.join(dirpath, f), root)] = fh.read()
    return out


@pytest.mark.parametrize('seed', range(12))
def test_the_object_is_where_the_scene_says(seed):
    label = seed % len(CLASS_NAMES)
    scene = render_object_scene(np.random.default_rng(seed), (96, 128), label)
    image, mask, bg, piece = scene['image'], scene['mask'], scene['background'], scene['piece']
    top, left, bottom, right = scene['box']
    assert image.shape == bg.shape == (96, 128, 3) and image.dtype == np.uint8
    assert scene['label'] == label and 0 <= top < bottom <= 96 and 0 <= left < right <= 128
    assert not mask[:top].any() and not mask[bottom:].any()
    assert not mask[:, :left].any() and not mask[:, right:].any()
    assert mask.sum() > 0.7 * (bottom - top) * (right - left)  # a superellipse fills >= pi/4
    np.testing.assert_array_equal(image[~mask], bg[~mask])
    np.testing.assert_array_equal(image[top:bottom, left:right][mask[top:bottom, left:right]],
                                  piece[mask[top:bottom, left:right]])
    # the detail is on the object: its pixels vary more than the plain background's
    assert image[mask].std(axis=0).mean() > bg[~mask].std(axis=0).mean()


def test_pieces_are_crops_of_their_own_photo():
    photos = load_object_photos()
    assert set(photos) == set(CLASS_NAMES) == {o.name for o in OBJECTS}
    for o in OBJECTS:
        top, left, bottom, right = o.box
        assert 0 <= top < bottom <= photos[o.name].shape[0], o.name
        assert 0 <= left < right <= photos[o.name].shape[1], o.name
    # a piece is a crop around the box: on a photo that is 200 in the box and 0 outside, most
    # of every piece is the box (scale >= 0.8, shift <= 0.1 of the side), mirrored or grey
    photo = np.zeros((300, 400, 3), np.uint8)
    photo[50:250, 100:300] = 200
    for seed in range(20):
        piece = object_piece(photo, (50, 100, 250, 300), 40, np.random.default_rng(seed))
        assert piece.shape == (40, 40, 3) and (piece == 200).mean() > 0.6, seed


def test_same_seed_same_bytes_other_seed_other_images(tmp_path):
    a = make_object_cls(str(tmp_path / 'a'), num_train=12, num_val=3, size=(64, 64), seed=3)
    b = make_object_cls(str(tmp_path / 'b'), num_train=12, num_val=3, size=(64, 64), seed=3)
    c = make_object_cls(str(tmp_path / 'c'), num_train=12, num_val=3, size=(64, 64), seed=4)
    assert a['written'] and b['written']
    bytes_a, bytes_b, bytes_c = (_bytes(str(tmp_path / k)) for k in 'abc')
    assert bytes_a == bytes_b and len(bytes_a) == 15 + 2
    pngs = [k for k in bytes_a if k.endswith('.png')]
    assert sum(bytes_a[k] != bytes_c[k] for k in pngs) == len(pngs)
    # an image depends on (seed, split, index) only, not on the set sizes
    d = make_object_cls(str(tmp_path / 'd'), num_train=2, num_val=0, size=(64, 64), seed=3)
    assert all(_bytes(d['root'])[k] == bytes_a[k] for k, _, _ in sample_files({'train': 2}))
    # the stored image is the rendered one (png is lossless)
    scene = render_object_scene(np.random.default_rng([3, 1, 2]), (64, 64), 2)
    np.testing.assert_array_equal(_read(osp.join(a['root'], 'val', CLASS_NAMES[2], '00002.png')),
                                  scene['image'])
    assert not make_object_cls(a['root'], num_train=12, num_val=3, size=(64, 64),
                               seed=3)['written']


def test_mmpretrain_custom_dataset_reads_the_layout(tmp_path):
    pytest.importorskip('mmpretrain.datasets')
    from mmpretrain.datasets import CustomDataset

    info = make_object_cls(str(tmp_path), num_train=2 * len(CLASS_NAMES) + 1, num_val=4,
                           size=(32, 48), seed=0)
    with open(info['classes_file']) as f:
        assert tuple(f.read().split()) == CLASS_NAMES
    train = CustomDataset(data_root=info['root'], data_prefix='train',
                          classes=info['classes_file'], pipeline=[])
    val = CustomDataset(data_root=info['root'], data_prefix='val',
                        classes=info['classes_file'], pipeline=[])
    assert len(train) == 2 * len(CLASS_NAMES) + 1 and len(val) == 4
    assert train.metainfo['classes'] == CLASS_NAMES
    for ds in (train, val):
        for i in range(len(ds)):
            item = ds.get_data_info(i)
            # the folder is the class and CustomDataset's label indexes classes.txt
            assert osp.basename(osp.dirname(item['img_path'])) == CLASS_NAMES[item['gt_label']]
    counts = np.bincount([train.get_data_info(i)['gt_label'] for i in range(len(train))])
    assert counts.min() == 2 and counts.max() == 3  # balanced: classes take turns


def test_refusals_lose_nothing(tmp_path):
    root = str(tmp_path)
    with pytest.raises(ValueError, match='at least 32 px'):
        make_object_cls(root, num_train=1, num_val=1, size=(16, 64))
    with pytest.raises(ValueError, match='num_val'):
        make_object_cls(root, num_train=1, num_val=-1)
    assert os.listdir(root) == []
    make_object_cls(root, num_train=3, num_val=1, size=(32, 32))
    with pytest.raises(FileExistsError, match='overwrite'):
        make_object_cls(root, num_train=4, num_val=1, size=(32, 32))
    info = make_object_cls(root, num_train=1, num_val=1, size=(32, 32), overwrite=True)
    with open(osp.join(root, META_FILE)) as f:
        assert json.load(f)['files'] == sorted(p for p, _, _ in sample_files(
            {'train': 1, 'val': 1}))
    assert info['written'] and len([k for k in _bytes(root) if k.endswith('.png')]) == 2
    foreign = osp.join(root, 'train', CLASS_NAMES[0], 'mine.jpg')
    with open(foreign, 'wb') as f:
        f.write(b'not ours')
    with pytest.raises(FileExistsError, match='not written by this generator'):
        make_object_cls(root, num_train=2, num_val=1, size=(32, 32), overwrite=True)
    assert osp.isfile(foreign)


def test_cli(tmp_path, capsys):
    cli = load_module(osp.join(ROOT, 'tools', 'dataset_converters', 'make_object_cls.py'),
                      'make_object_cls_cli')
    cli.main(['--root', str(tmp_path), '--num-train', '2', '--num-val', '1', '--size', '40'])
    out = capsys.readouterr().out
    assert 'wrote 2 training + 1 validation images (40x40, seed 0)' in out
    assert _read(osp.join(str(tmp_path), 'train', CLASS_NAMES[1], '00001.png')).shape == (40, 40, 3)
    with pytest.raises(SystemExit, match='at least 32 px'):
        cli.main(['--root', str(tmp_path / 'x'), '--size', '8'])
