"""Write a generated segmentation set in the ADE20K layout, safely and reproducibly.

The layout, read unchanged by mmseg's ``ADE20KDataset`` (``reduce_zero_label=True``)::

    {root}/ADEChallengeData2016/images/{training,validation}/ADE_{train,val}_%08d.jpg
    {root}/ADEChallengeData2016/annotations/{training,validation}/ADE_{train,val}_%08d.png
    {root}/ADEChallengeData2016/synthetic_meta.json   (parameters + the files written)

The writer never deletes, overwrites or mixes in a file it did not write: the meta file lists
what it wrote (before the first image, so a killed run's files stay known), and a root holding
other .jpg/.png files is refused. Every image has its own random stream,
``default_rng([seed, split code, index])``: the files are a function of the seed
(byte-identical on one machine) and do not depend on the set sizes.
"""
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ['Renderer', 'write_ade20k_set', 'SUBDIR', 'META_FILE', 'SPLITS']

Renderer = Callable[[np.random.Generator, Tuple[int, int]], Tuple[np.ndarray, np.ndarray]]
SUBDIR = 'ADEChallengeData2016'
META_FILE = 'synthetic_meta.json'
# the id of the meta format, written into every meta file; it names the module the writer
# came from, so that sets written before it moved are still recognised as its own
WRITER_ID = 'msvit_mm.datasets.synthetic_ade20k'
FORMAT_VERSION = 1
JPEG_QUALITY = 95
SPLITS = {'training': ('train', 0), 'validation': ('val', 1)}  # dir -> (file tag, rng code)


def _file_names(split: str, num: int) -> List[str]:
    tag = SPLITS[split][0]
    return [f'ADE_{tag}_{i + 1:08d}' for i in range(num)]


def _existing_files(data_root: str) -> List[str]:
    found = []
    for split in SPLITS:
        for sub, ext in (('images', '.jpg'), ('annotations', '.png')):
            d = osp.join(data_root, sub, split)
            if osp.isdir(d):
                found += [osp.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(ext)]
    return found


def _expected_files(data_root: str, counts: Dict[str, int]) -> List[str]:
    files = []
    for split, num in counts.items():
        for stem in _file_names(split, num):
            files.append(osp.join(data_root, 'images', split, stem + '.jpg'))
            files.append(osp.join(data_root, 'annotations', split, stem + '.png'))
    return files


def _written_files(data_root: str, meta: Optional[dict]) -> List[str]:
    """The files an earlier run wrote (or was writing), as its meta file lists them."""
    if meta is None or meta.get('generator') != WRITER_ID:
        return []
    if 'files' in meta:
        return [osp.join(data_root, f) for f in meta['files']]
    # older meta files list no files: the names follow from the counts
    return _expected_files(data_root, {'training': int(meta.get('num_train', 0)),
                                       'validation': int(meta.get('num_val', 0))})


def _checked_args(num_train, num_val, size, min_size: int) -> Tuple[Dict[str, int], tuple]:
    """The split counts and (H, W), or a ValueError naming the argument."""
    counts = {}
    for split, arg, num in (('training', 'num_train', num_train),
                            ('validation', 'num_val', num_val)):
        if isinstance(num, bool) or int(num) != num or num < 0:
            raise ValueError(f'{arg}={num!r}: must be an integer >= 0')
        counts[split] = int(num)
    if len(size) != 2 or any(isinstance(s, bool) or int(s) != s for s in size):
        raise ValueError(f'size={tuple(size)!r}: must be two integers (H, W)')
    size = (int(size[0]), int(size[1]))
    if min(size) < max(1, min_size):
        raise ValueError(f'size={size}: this renderer draws images of at least '
                         f'{max(1, min_size)}x{max(1, min_size)} pixels (H and W >= '
                         f'{max(1, min_size)})')
    return counts, size


def _render(renderer: Renderer, rng: np.random.Generator, size: Tuple[int, int], what: str
            ) -> Tuple[np.ndarray, np.ndarray]:
    image, label = renderer(rng, size)
    if image.shape != (*size, 3) or image.dtype != np.uint8 or label.shape != size \
            or label.dtype != np.uint8:
        raise ValueError(f'the renderer gave an image {image.shape} {image.dtype} and a label '
                         f'{label.shape} {label.dtype} for {what}; expected uint8 '
                         f'[{size[0]}, {size[1]}, 3] and uint8 [{size[0]}, {size[1]}]')
    return image, label


def check_rewrite(root: str, foreign: Sequence[str], meta: Optional[dict], params: dict,
                  overwrite: bool, files: str, what: str) -> None:
    """Refuse to write a generated set into ``root`` when it holds ``foreign`` files (not
    written by the generator) or a set ``meta`` made with other ``params`` (unless
    ``overwrite``): a FileExistsError naming the files or the differing arguments.
    ``files`` / ``what`` name the kind of file and of set in the message."""
    if foreign:
        raise FileExistsError(
            f'{root} holds {len(foreign)} {files} not written by this generator '
            f'(e.g. {list(foreign[:3])}). It never deletes or mixes in files it did not '
            'write: choose another root or move those files away.')
    if meta is not None and {k: meta.get(k) for k in params} != params and not overwrite:
        diff = {k: meta.get(k) for k in params if meta.get(k) != params[k]}
        raise FileExistsError(
            f'{root} already holds {what} made with {diff} '
            f'(wanted {({k: params[k] for k in diff})}). Pass overwrite=True (--overwrite) to '
            'replace the files that set wrote, or choose another root.')


def write_ade20k_set(root: str, renderer: Renderer, class_names: Dict[int, str], name: str,
                     num_train: int, num_val: int, size: Sequence[int], seed: int,
                     overwrite: bool = False, min_size: int = 1) -> dict:
    """Write ``num_train`` + ``num_val`` scenes under ``{root}/ADEChallengeData2016``.

    Idempotent: a complete set of the same parameters is left as it is.

    Args:
        root: the folder that will hold ``ADEChallengeData2016``.
        renderer: ``renderer(rng, (H, W)) -> (image uint8 [H, W, 3] RGB, label uint8 [H, W]
            ADE20K ids, 0 = other)``, drawing only from ``rng``.
        class_names: ADE20K id -> name of every class the renderer can draw (kept in the
            meta file and returned).
        name: the renderer's name, kept in the meta file (``style``): a set of another
            renderer is another set.
        num_train, num_val: images in ``training`` and ``validation`` (>= 0).
        size: (H, W) of every image, each at least ``min_size``.
        seed: the set's seed; another seed gives other scenes.
        overwrite: replace a set this writer made with other parameters. Only the files
            listed in its meta file are deleted; other files are never touched.
        min_size: the smallest H and W the renderer can draw.

    Returns:
        dict with ``data_root``, ``num_train``, ``num_val``, ``size``, ``seed``, ``classes``
        (ADE20K id -> name) and ``written`` (False when the set was already complete).

    Raises:
        ValueError: a count or size the renderer cannot draw (nothing is written).
        FileExistsError: the split folders hold .jpg/.png files this writer did not write
            (whatever ``overwrite``), or another generated set and ``overwrite`` is off.
    """
    import cv2  # comes with mmcv/mmengine; imported here so the module imports with numpy only

    counts, size = _checked_args(num_train, num_val, size, min_size)
    data_root = osp.join(root, SUBDIR)
    meta_path = osp.join(data_root, META_FILE)
    classes = dict(sorted((int(k), str(v)) for k, v in class_names.items()))
    params = dict(generator=WRITER_ID, version=FORMAT_VERSION,
                  num_train=counts['training'], num_val=counts['validation'], size=list(size),
                  seed=int(seed), jpeg_quality=JPEG_QUALITY, style=name)
    result = dict(data_root=data_root, num_train=counts['training'],
                  num_val=counts['validation'], size=size, seed=int(seed), classes=classes)
    expected = _expected_files(data_root, counts)
    existing = _existing_files(data_root)
    meta = None
    if osp.isfile(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        meta.setdefault('style', 'demo')  # sets written before styles existed
    ours = set(_written_files(data_root, meta))
    foreign = [p for p in existing if p not in ours]
    same = meta is not None and {k: meta.get(k) for k in params} == params
    if same and meta.get('complete') and sorted(existing) == sorted(expected) and not foreign:
        return dict(result, written=False)
    check_rewrite(data_root, foreign, meta, params, overwrite, '.jpg/.png files',
                  'a synthetic set')
    for path in existing:  # all listed in the meta file: written by this writer
        os.remove(path)
    for split in counts:
        for sub in ('images', 'annotations'):
            os.makedirs(osp.join(data_root, sub, split), exist_ok=True)
    files = [osp.relpath(p, data_root) for p in expected]
    with open(meta_path, 'w') as f:  # the list first: a killed run's files stay known as ours
        json.dump(dict(params, complete=False, files=files), f, indent=1)
    for split, num in counts.items():
        for i, stem in enumerate(_file_names(split, num)):
            rng = np.random.default_rng([int(seed), SPLITS[split][1], i])
            image, label = _render(renderer, rng, size, f'{split} image {i}')
            img_path = osp.join(data_root, 'images', split, stem + '.jpg')
            seg_path = osp.join(data_root, 'annotations', split, stem + '.png')
            if not (cv2.imwrite(img_path, image[..., ::-1],
                                [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                    and cv2.imwrite(seg_path, label)):
                raise OSError(f'could not write {img_path} / {seg_path}')
    with open(meta_path, 'w') as f:
        json.dump(dict(params, complete=True, classes={str(k): v for k, v in classes.items()},
                       files=files), f, indent=1)
    return dict(result, written=True)
