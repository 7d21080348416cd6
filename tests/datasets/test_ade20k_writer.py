"""The ADE20K-layout writer on its own: any renderer, per-image streams, sizes it refuses."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from msvit_mm.datasets.ade20k_writer import META_FILE, SUBDIR, write_ade20k_set
from msvit_mm.datasets.synthetic_ade20k import make_synthetic_ade20k
from tests.helpers import ROOT, load_module


def _flat(rng, size):
    """A renderer whose label is one random class id and image one random grey."""
    h, w = size
    cid, grey = rng.integers(1, 151), rng.integers(0, 256)
    return np.full((h, w, 3), grey, np.uint8), np.full((h, w), cid, np.uint8)


def _labels(data_root, split):
    import cv2
    folder = osp.join(data_root, 'annotations', split)
    return [int(cv2.imread(osp.join(folder, n), cv2.IMREAD_UNCHANGED)[0, 0])
            for n in sorted(os.listdir(folder))]


def test_any_renderer_one_stream_per_image(tmp_path):
    info = write_ade20k_set(str(tmp_path), _flat, {5: 'tree'}, 'flat', 3, 2, (8, 6), seed=4)
    assert info['written'] and info['classes'] == {5: 'tree'} and info['size'] == (8, 6)
    # image i of a split is drawn from default_rng([seed, split code, i]) and nothing else
    want = [int(np.random.default_rng([4, 0, i]).integers(1, 151)) for i in range(3)]
    assert _labels(info['data_root'], 'training') == want
    with open(osp.join(info['data_root'], META_FILE)) as f:
        meta = json.load(f)
    assert meta['complete'] and meta['style'] == 'flat' and len(meta['files']) == 10
    again = write_ade20k_set(str(tmp_path), _flat, {5: 'tree'}, 'flat', 3, 2, (8, 6), seed=4)
    assert not again['written']


def test_another_renderer_name_is_another_set(tmp_path):
    write_ade20k_set(str(tmp_path), _flat, {}, 'flat', 1, 1, (8, 8), seed=0)
    with pytest.raises(FileExistsError, match='style'):
        make_synthetic_ade20k(str(tmp_path), num_train=1, num_val=1, size=(8, 8))


@pytest.mark.parametrize('size', [(1, 1), (2, 2), (3, 300), (300, 3)])
def test_sizes_below_the_minimum_are_refused_and_nothing_is_written(tmp_path, size):
    with pytest.raises(ValueError, match=r'at least 4x4 pixels'):
        make_synthetic_ade20k(str(tmp_path), num_train=1, num_val=1, size=size)
    assert not osp.exists(osp.join(str(tmp_path), SUBDIR))
    cli = load_module(osp.join(ROOT, 'tools', 'dataset_converters', 'make_synthetic_ade20k.py'),
                      'make_synthetic_cli_size')
    with pytest.raises(SystemExit, match=r'--size: .*at least 4x4'):
        cli.main(['--root', str(tmp_path), '--size', str(size[0]), str(size[1])])
    assert not osp.exists(osp.join(str(tmp_path), SUBDIR))


def test_the_smallest_size_is_drawn(tmp_path):
    info = make_synthetic_ade20k(str(tmp_path), num_train=2, num_val=1, size=(4, 300))
    assert info['written'] and info['size'] == (4, 300)


@pytest.mark.parametrize('kwargs, word', [(dict(num_train=-1), 'num_train'),
                                          (dict(num_val=1.5), 'num_val'),
                                          (dict(size=(8,)), 'size')])
def test_bad_counts_and_sizes_name_the_argument(tmp_path, kwargs, word):
    args = {**dict(num_train=1, num_val=1, size=(8, 8)), **kwargs}
    with pytest.raises(ValueError, match=word):
        write_ade20k_set(str(tmp_path), _flat, {}, 'flat', seed=0, **args)
    assert not osp.exists(osp.join(str(tmp_path), SUBDIR))


def test_a_renderer_of_the_wrong_shape_is_named(tmp_path):
    def wrong(rng, size):
        return np.zeros((*size, 3), np.uint8), np.zeros((size[0] + 1, size[1]), np.uint8)

    with pytest.raises(ValueError, match='training image 0'):
        write_ade20k_set(str(tmp_path), wrong, {}, 'wrong', 1, 0, (8, 8), seed=0)
    # the files it meant to write are listed: a later run may replace them
    with open(osp.join(str(tmp_path), SUBDIR, META_FILE)) as f:
        assert not json.load(f)['complete']
    assert write_ade20k_set(str(tmp_path), _flat, {}, 'flat', 1, 0, (8, 8), seed=0,
                            overwrite=True)['written']
