"""The embedded synthetic ADE20K-layout set: determinism, layout, idempotence, scene content."""
import hashlib
import os
import os.path as osp

import numpy as np
import pytest

from msvit_mm.datasets.synthetic_ade20k import (CLASS_STYLES, STUFF_IDS, THING_IDS,
                                                class_frequencies, make_synthetic_ade20k,
                                                render_scene)
from tests.helpers import ROOT, load_module

SMALL = dict(num_train=6, num_val=3, size=(64, 64))


def _digest(data_root: str, sub: str, ext: str) -> dict:
    """name -> sha1 of every file of one kind, over both splits."""
    out = {}
    for split in ('training', 'validation'):
        folder = osp.join(data_root, sub, split)
        for name in sorted(os.listdir(folder)):
            if name.endswith(ext):
                with open(osp.join(folder, name), 'rb') as f:
                    out[f'{split}/{name}'] = hashlib.sha1(f.read()).hexdigest()
    return out


def test_layout_and_counts(tmp_path):
    info = make_synthetic_ade20k(str(tmp_path), seed=0, **SMALL)
    root = osp.join(str(tmp_path), 'ADEChallengeData2016')
    assert info['data_root'] == root and info['written']
    for sub, ext in (('images', '.jpg'), ('annotations', '.png')):
        for split, num in (('training', 6), ('validation', 3)):
            names = sorted(os.listdir(osp.join(root, sub, split)))
            assert len(names) == num and all(n.endswith(ext) for n in names)
    assert sorted(os.listdir(osp.join(root, 'images', 'training')))[0] == 'ADE_train_00000001.jpg'


def test_deterministic_for_a_seed_and_different_for_another(tmp_path):
    roots = [osp.join(str(tmp_path), name) for name in ('a', 'b', 'c')]
    for root, seed in zip(roots, (0, 0, 1)):
        make_synthetic_ade20k(root, seed=seed, **SMALL)
    data = [osp.join(r, 'ADEChallengeData2016') for r in roots]
    labels = [_digest(d, 'annotations', '.png') for d in data]
    images = [_digest(d, 'images', '.jpg') for d in data]
    assert labels[0] == labels[1] and images[0] == images[1]
    assert len(labels[0]) == 9
    differ = [labels[0][k] != labels[2][k] for k in labels[0]]
    assert all(differ), 'another seed must give other scenes'


def test_scene_does_not_depend_on_set_size(tmp_path):
    a, b = osp.join(str(tmp_path), 'a'), osp.join(str(tmp_path), 'b')
    make_synthetic_ade20k(a, num_train=2, num_val=1, size=(64, 64))
    make_synthetic_ade20k(b, num_train=4, num_val=2, size=(64, 64))
    da = _digest(osp.join(a, 'ADEChallengeData2016'), 'annotations', '.png')
    db = _digest(osp.join(b, 'ADEChallengeData2016'), 'annotations', '.png')
    assert all(db[k] == v for k, v in da.items())


def test_idempotent_and_refuses_other_parameters(tmp_path):
    root = str(tmp_path)
    make_synthetic_ade20k(root, seed=0, **SMALL)
    first = osp.join(root, 'ADEChallengeData2016', 'annotations', 'training',
                     'ADE_train_00000001.png')
    stamp = os.stat(first).st_mtime_ns
    again = make_synthetic_ade20k(root, seed=0, **SMALL)
    assert not again['written'] and os.stat(first).st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match='seed'):
        make_synthetic_ade20k(root, seed=1, **SMALL)
    other = make_synthetic_ade20k(root, seed=1, overwrite=True, num_train=2, num_val=1,
                                  size=(64, 64))
    assert other['written']
    assert len(os.listdir(osp.dirname(first))) == 2  # old files removed


def test_refuses_foreign_files(tmp_path):
    folder = tmp_path / 'ADEChallengeData2016' / 'images' / 'training'
    folder.mkdir(parents=True)
    (folder / 'real_photo.jpg').write_bytes(b'not ours')
    with pytest.raises(FileExistsError, match='not written by this generator'):
        make_synthetic_ade20k(str(tmp_path), **SMALL)
    assert (folder / 'real_photo.jpg').exists()


def test_incomplete_set_is_regenerated(tmp_path):
    root = str(tmp_path)
    make_synthetic_ade20k(root, **SMALL)
    os.remove(osp.join(root, 'ADEChallengeData2016', 'images', 'validation',
                       'ADE_val_00000002.jpg'))
    assert make_synthetic_ade20k(root, **SMALL)['written']
    assert len(os.listdir(osp.join(root, 'ADEChallengeData2016', 'images', 'validation'))) == 3


def test_class_ids_are_ade20k_names():
    from mmseg.datasets import ADE20KDataset
    names = ADE20KDataset.METAINFO['classes']
    assert len(CLASS_STYLES) >= 8
    for cid, style in CLASS_STYLES.items():
        assert 1 <= cid <= 150 and names[cid - 1] == style.name


def test_labels_use_only_declared_ids(tmp_path):
    make_synthetic_ade20k(str(tmp_path), **SMALL)
    freq = class_frequencies(str(tmp_path), 'training')
    assert set(freq) <= set(CLASS_STYLES) | {0}
    assert sum(freq.values()) == 6 * 64 * 64
    assert set(freq) & set(STUFF_IDS) and set(freq) & set(THING_IDS)


def test_scenes_mix_smooth_regions_and_small_detailed_objects():
    """At 128x128: many 32x32 blocks are one class, many mix classes; stuff is smooth."""
    single = mixed = 0
    stuff_grad, thing_grad, thing_share = [], [], []
    for i in range(16):
        img, lab = render_scene(np.random.default_rng([0, 0, i]), (128, 128))
        assert img.shape == (128, 128, 3) and img.dtype == np.uint8 and lab.dtype == np.uint8
        blocks = lab.reshape(4, 32, 4, 32).transpose(0, 2, 1, 3).reshape(16, -1)
        one = (blocks == blocks[:, :1]).all(1)
        single, mixed = single + one.sum(), mixed + (~one).sum()
        grad = np.abs(np.diff(img.astype(np.float32), axis=1)).mean(-1)  # [H, W-1]
        same = lab[:, 1:] == lab[:, :-1]
        stuff_grad.append(grad[same & np.isin(lab[:, 1:], STUFF_IDS)].mean())
        thing_grad.append(grad[same & np.isin(lab[:, 1:], THING_IDS)].mean())
        thing_share.append(np.isin(lab, THING_IDS).mean())
    frac_single = single / (single + mixed)
    assert 0.2 < frac_single < 0.8, frac_single
    assert np.mean(stuff_grad) < 8 and np.mean(thing_grad) > 30  # smooth vs textured
    assert 0.02 < np.mean(thing_share) < 0.25  # objects are small


def test_cli_writes_and_reports(tmp_path, capsys):
    cli = load_module(osp.join(ROOT, 'tools', 'dataset_converters', 'make_synthetic_ade20k.py'),
                      'make_synthetic_cli')
    root = str(tmp_path / 'ade')
    cli.main(['--root', root, '--num-train', '2', '--num-val', '1', '--size', '48', '64'])
    assert 'wrote 2 training + 1 validation images (48x64' in capsys.readouterr().out
    cli.main(['--root', root, '--num-train', '2', '--num-val', '1', '--size', '48', '64'])
    assert 'nothing written' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='seed'):
        cli.main(['--root', root, '--num-train', '2', '--num-val', '1', '--seed', '3'])


def _real_ade(root) -> list:
    """A stand-in for the real ADE20K under ``root``: files the generator never wrote."""
    files = []
    for sub, ext in (('images', '.jpg'), ('annotations', '.png')):
        folder = root / 'ADEChallengeData2016' / sub / 'training'
        folder.mkdir(parents=True)
        files.append(folder / f'ADE_train_00000001{ext}')
        files[-1].write_bytes(b'real data')
    return files


def test_overwrite_never_deletes_files_it_did_not_write(tmp_path):
    real = _real_ade(tmp_path)
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match='not written by this generator'):
            make_synthetic_ade20k(str(tmp_path), overwrite=overwrite, **SMALL)
    assert all(f.read_bytes() == b'real data' for f in real)
    cli = load_module(osp.join(ROOT, 'tools', 'dataset_converters', 'make_synthetic_ade20k.py'),
                      'make_synthetic_cli2')
    with pytest.raises(SystemExit, match='not written by this generator'):
        cli.main(['--root', str(tmp_path), '--overwrite', '--num-train', '1', '--num-val', '1'])
    assert all(f.read_bytes() == b'real data' for f in real)


def test_overwrite_keeps_a_foreign_file_added_to_a_synthetic_set(tmp_path):
    root = str(tmp_path)
    make_synthetic_ade20k(root, seed=0, **SMALL)
    mine = tmp_path / 'ADEChallengeData2016' / 'images' / 'training' / 'my_photo.jpg'
    mine.write_bytes(b'mine')
    with pytest.raises(FileExistsError, match='my_photo.jpg'):
        make_synthetic_ade20k(root, seed=1, overwrite=True, **SMALL)
    assert mine.read_bytes() == b'mine'
    mine.unlink()  # once it is gone, the set is replaced: only files it listed are deleted
    assert make_synthetic_ade20k(root, seed=1, overwrite=True, **SMALL)['written']


def test_default_root_is_not_where_real_ade20k_goes():
    import inspect
    assert inspect.signature(make_synthetic_ade20k).parameters['root'].default == \
        'data/synthetic_ade'
    cli = load_module(osp.join(ROOT, 'tools', 'dataset_converters', 'make_synthetic_ade20k.py'),
                      'make_synthetic_cli3')
    assert cli.parse_args([]).root == 'data/synthetic_ade'
