"""Write the embedded object-classification set in mmpretrain's ``CustomDataset`` folder layout.

The layout, read unchanged by ``mmpretrain.datasets.CustomDataset`` (``data_root=ROOT,
data_prefix='train'`` or ``'val'``, ``classes=ROOT/classes.txt``)::

    {root}/{train,val}/<class name>/{index:05d}.png
    {root}/classes.txt          one class name a line, in CustomDataset's (sorted folder) order
    {root}/objects_meta.json    the parameters and the files written

Image ``index`` of a split has class ``index % num_classes`` (balanced splits) and its own
random stream ``default_rng([seed, split code, index])``: the files are a function of the seed
(byte-identical on one machine) and do not depend on the set sizes. Like the ADE20K-layout
writer, it never deletes, overwrites or mixes in a file it did not write: the meta file lists
what it will write before the first image, and split folders holding other images are refused.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np

from .ade20k_writer import check_rewrite
from .object_scenes import CLASS_NAMES, check_size, render_object_scene

__all__ = ['DEFAULT_ROOT', 'META_FILE', 'SPLITS', 'make_object_cls', 'sample_files']

DEFAULT_ROOT = 'data/objects_cls'
META_FILE = 'objects_meta.json'
CLASSES_FILE = 'classes.txt'
WRITER_ID = 'msvit_mm.datasets.object_cls_writer'
FORMAT_VERSION = 1
SPLITS = {'train': 0, 'val': 1}  # folder -> rng code
IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.bmp', '.ppm', '.pgm', '.tif', '.tiff', '.webp')


def sample_files(counts: Dict[str, int]) -> List[Tuple[str, int, int]]:
    """``(path relative to the root, split index, label)`` of every image, in writing order."""
    out = []
    for split, num in counts.items():
        for i in range(num):
            label = i % len(CLASS_NAMES)
            out.append((f'{split}/{CLASS_NAMES[label]}/{i:05d}.png', i, label))
    return out


def _existing_images(root: str) -> List[str]:
    found = []
    for split in SPLITS:
        for dirpath, _, files in os.walk(osp.join(root, split)):
            found += [osp.relpath(osp.join(dirpath, f), root) for f in files
                      if f.lower().endswith(IMAGE_EXTS)]
    return sorted(found)


def _counts(num_train, num_val) -> Dict[str, int]:
    counts = {}
    for split, arg, num in (('train', 'num_train', num_train), ('val', 'num_val', num_val)):
        if isinstance(num, bool) or int(num) != num or num < 0:
            raise ValueError(f'{arg}={num!r}: must be an integer >= 0')
        counts[split] = int(num)
    return counts


def make_object_cls(root: str = DEFAULT_ROOT, num_train: int = 400, num_val: int = 100,
                    size=(128, 128), seed: int = 0, overwrite: bool = False) -> dict:
    """Write ``num_train`` + ``num_val`` object scenes under ``root``; idempotent.

    Args:
        root: the folder that will hold ``train/``, ``val/`` and ``classes.txt``.
        num_train, num_val: images per split (>= 0; classes take turns).
        size: (H, W) of every image, each at least 32.
        seed: the set's seed.
        overwrite: replace a set this writer made with other parameters (only the files its
            meta file lists are deleted).

    Returns:
        dict with ``root``, ``num_train``, ``num_val``, ``size``, ``seed``, ``classes``,
        ``classes_file`` and ``written`` (False when the same set was already complete).

    Raises:
        ValueError: a count or size it cannot draw (nothing is written).
        FileExistsError: the split folders hold images this writer did not write, or
            another generated set and ``overwrite`` is off.
    """
    import cv2

    counts = _counts(num_train, num_val)
    size = check_size(size)
    meta_path = osp.join(root, META_FILE)
    params = dict(generator=WRITER_ID, version=FORMAT_VERSION, num_train=counts['train'],
                  num_val=counts['val'], size=list(size), seed=int(seed),
                  classes=list(CLASS_NAMES))
    result = dict(root=root, num_train=counts['train'], num_val=counts['val'], size=size,
                  seed=int(seed), classes=CLASS_NAMES,
                  classes_file=osp.join(root, CLASSES_FILE))
    samples = sample_files(counts)
    expected = sorted(path for path, _, _ in samples)
    meta = None
    if osp.isfile(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    ours = set(meta.get('files', [])) if meta and meta.get('generator') == WRITER_ID else set()
    existing = _existing_images(root)
    foreign = [p for p in existing if p not in ours]
    same = meta is not None and {k: meta.get(k) for k in params} == params
    if same and meta.get('complete') and existing == expected:
        return dict(result, written=False)
    check_rewrite(root, foreign, meta, params, overwrite, 'images', 'an object set')
    for path in existing:  # all listed in the meta file: written by this writer
        os.remove(osp.join(root, path))
    os.makedirs(root, exist_ok=True)
    with open(meta_path, 'w') as f:  # the list first: a killed run's files stay known as ours
        json.dump(dict(params, complete=False, files=expected), f, indent=1)
    for split in counts:
        for name in CLASS_NAMES:
            os.makedirs(osp.join(root, split, name), exist_ok=True)
    for path, index, label in samples:
        split = path.split('/')[0]
        scene = render_object_scene(np.random.default_rng([int(seed), SPLITS[split], index]),
                                    size, label)
        if not cv2.imwrite(osp.join(root, path), scene['image'][..., ::-1]):
            raise OSError(f'could not write {osp.join(root, path)}')
    with open(osp.join(root, CLASSES_FILE), 'w') as f:
        f.write('\n'.join(CLASS_NAMES) + '\n')
    with open(meta_path, 'w') as f:
        json.dump(dict(params, complete=True, files=expected), f, indent=1)
    return dict(result, written=True)
