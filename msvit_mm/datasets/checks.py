"""Early, readable checks on the dataset folders, before mmseg scans them.

mmseg's ``BaseSegDataset`` lists ``data_root/data_prefix`` lazily and reports a missing folder
as a bare path from deep inside the file backend (or, for an empty folder, builds a dataset of
length 0 that fails later in the sampler). :func:`check_data_root` says what is missing and how
to prepare it.
"""
import os
import os.path as osp
from typing import Dict, Mapping, Optional

__all__ = ['check_data_root', 'PREPARE_HINT']

PREPARE_HINT = (
    'To prepare ADE20K, download ADEChallengeData2016.zip '
    '(http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip) and unzip it '
    'into data/ade as described in MMSegmentation\'s dataset docs '
    '(https://mmsegmentation.readthedocs.io/en/latest/user_guides/2_dataset_prepare.html), '
    'giving data/ade/ADEChallengeData2016/{images,annotations}/{training,validation}; '
    'or write the small embedded synthetic set in that layout with '
    '`python tools/dataset_converters/make_synthetic_ade20k.py --root data/ade`.')


def check_data_root(data_root: Optional[str],
                    data_prefix: Optional[Mapping[str, str]] = None,
                    img_suffix: str = '.jpg') -> Dict[str, str]:
    """Check that ``data_root`` and every ``data_prefix`` folder exist.

    Args:
        data_root: the dataset root of the config (e.g. ``data/ade/ADEChallengeData2016``);
            ``None`` or ``''`` when the prefixes are full paths (only they are checked).
        data_prefix: the dataloader's ``dataset.data_prefix``, e.g.
            ``dict(img_path='images/validation', seg_map_path='annotations/validation')``;
            relative entries are joined to ``data_root``.
        img_suffix: the images' file ending; the ``img_path`` folder must hold at least one.

    Returns:
        dict prefix key -> resolved folder path.

    Raises:
        FileNotFoundError: naming the missing (or image-less) folder, with :data:`PREPARE_HINT`.
    """
    root = osp.expanduser(data_root or '')
    if root and not osp.isdir(root):
        raise FileNotFoundError(
            f'data_root {root!r} does not exist (absolute: {osp.abspath(root)}). '
            + PREPARE_HINT)
    resolved = {}
    for key, prefix in (data_prefix or {}).items():
        if not prefix:
            continue
        path = osp.join(root, osp.expanduser(prefix))  # an absolute prefix wins
        if not osp.isdir(path):
            raise FileNotFoundError(
                f'data_prefix {key}={prefix!r}: folder {path!r} does not exist under '
                f'data_root {root!r}. ' + PREPARE_HINT)
        resolved[key] = path
    img_dir = resolved.get('img_path')
    if img_dir is not None and not _has_file(img_dir, img_suffix):
        raise FileNotFoundError(
            f'image folder {img_dir!r} holds no *{img_suffix} file. ' + PREPARE_HINT)
    return resolved


def _has_file(folder: str, suffix: str) -> bool:
    """Whether ``folder`` (recursively, as mmseg scans it) holds a file ending in ``suffix``."""
    for _, _, files in os.walk(folder):
        if any(f.endswith(suffix) for f in files):
            return True
    return False
