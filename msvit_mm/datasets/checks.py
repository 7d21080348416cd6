"""Early, readable checks on the dataset folders, before mmseg scans them.

mmseg's ``BaseSegDataset`` lists ``data_root/data_prefix`` lazily and reports a missing folder
as a bare path from deep inside the file backend (or, for an empty folder, builds a dataset of
length 0 that fails later in the sampler). :func:`check_data_root` says what is missing and how
to prepare it. :func:`check_dataset` does so for a dataset config, with the dataset's own file
endings (``img_suffix`` / ``seg_map_suffix``, from the config or the dataset class's defaults)
and a hint that fits the dataset type.
"""
import inspect
import os
import os.path as osp
from typing import Dict, Mapping, Optional

__all__ = ['check_data_root', 'check_dataset', 'PREPARE_HINT', 'prepare_hint']

DATASET_DOCS = 'https://mmsegmentation.readthedocs.io/en/latest/user_guides/2_dataset_prepare.html'
PREPARE_HINT = (
    'To prepare ADE20K, download ADEChallengeData2016.zip '
    '(http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip) and unzip it '
    'into data/ade as described in MMSegmentation\'s dataset docs '
    '(https://mmsegmentation.readthedocs.io/en/latest/user_guides/2_dataset_prepare.html), '
    'giving data/ade/ADEChallengeData2016/{images,annotations}/{training,validation}; '
    'or, to try the code without ADE20K, write the small embedded synthetic set in that layout '
    'with `python tools/dataset_converters/make_synthetic_ade20k.py --root data/synthetic_ade` '
    'and use data_root=data/synthetic_ade/ADEChallengeData2016.')


def prepare_hint(dataset_type: Optional[str]) -> str:
    """How to get the data of ``dataset_type`` (mmseg's class name, e.g. 'ADE20KDataset')."""
    if dataset_type in (None, 'ADE20KDataset'):
        return PREPARE_HINT
    return (f'Prepare the {dataset_type} data as MMSegmentation\'s dataset docs describe '
            f'({DATASET_DOCS}), or point the config at it with --cfg-options '
            '<loader>.dataset.data_root=... (and data_prefix, img_suffix, seg_map_suffix).')


def check_data_root(data_root: Optional[str],
                    data_prefix: Optional[Mapping[str, str]] = None,
                    img_suffix: str = '.jpg', seg_map_suffix: Optional[str] = None,
                    hint: str = PREPARE_HINT) -> Dict[str, str]:
    """Check that ``data_root`` and every ``data_prefix`` folder exist.

    Args:
        data_root: the dataset root of the config (e.g. ``data/ade/ADEChallengeData2016``);
            ``None`` or ``''`` when the prefixes are full paths (only they are checked).
        data_prefix: the dataloader's ``dataset.data_prefix``, e.g.
            ``dict(img_path='images/validation', seg_map_path='annotations/validation')``;
            relative entries are joined to ``data_root``.
        img_suffix: the images' file ending; the ``img_path`` folder must hold at least one.
        seg_map_suffix: the labels' file ending; if given, the ``seg_map_path`` folder must
            hold at least one.
        hint: how to prepare the data, appended to every error.

    Returns:
        dict prefix key -> resolved folder path.

    Raises:
        FileNotFoundError: naming the missing (or file-less) folder, with ``hint``.
    """
    root = osp.expanduser(data_root or '')
    if root and not osp.isdir(root):
        raise FileNotFoundError(
            f'data_root {root!r} does not exist (absolute: {osp.abspath(root)}). '
            + hint)
    resolved = {}
    for key, prefix in (data_prefix or {}).items():
        if not prefix:
            continue
        path = osp.join(root, osp.expanduser(prefix))  # an absolute prefix wins
        if not osp.isdir(path):
            raise FileNotFoundError(
                f'data_prefix {key}={prefix!r}: folder {path!r} does not exist under '
                f'data_root {root!r}. ' + hint)
        resolved[key] = path
    for key, kind, suffix in (('img_path', 'image', img_suffix),
                              ('seg_map_path', 'label', seg_map_suffix)):
        folder = resolved.get(key)
        if folder is not None and suffix is not None and not _has_file(folder, suffix):
            raise FileNotFoundError(
                f'{kind} folder {folder!r} holds no *{suffix} file (the dataset\'s {key[:-5]}'
                f'_suffix; set it in the config if your files end otherwise). ' + hint)
    return resolved


def _defaults(dataset_type: Optional[str]) -> Dict[str, object]:
    """The dataset class's constructor defaults (``img_suffix`` etc.), {} if unknown."""
    if not isinstance(dataset_type, str):
        return {}
    from mmseg.registry import DATASETS
    cls = DATASETS.get(dataset_type)
    if cls is None:
        return {}
    return {name: p.default for name, p in inspect.signature(cls).parameters.items()
            if p.default is not inspect.Parameter.empty}


def check_dataset(dataset_cfg: Mapping) -> None:
    """:func:`check_data_root` for one dataset config (wrappers: every dataset inside).

    ``img_suffix`` / ``seg_map_suffix`` come from the config, else from the dataset class's
    defaults (mmseg's ``ADE20KDataset``: .jpg / .png, ``CityscapesDataset``:
    _leftImg8bit.png / _gtFine_labelTrainIds.png).
    """
    if not dataset_cfg:
        return
    for inner in dataset_cfg.get('datasets') or []:  # ConcatDataset
        check_dataset(inner)
    if isinstance(dataset_cfg.get('dataset'), Mapping):  # RepeatDataset, MultiImageMixDataset
        check_dataset(dataset_cfg['dataset'])
    if not (dataset_cfg.get('data_root') or dataset_cfg.get('data_prefix')):
        return
    defaults = _defaults(dataset_cfg.get('type'))
    suffix = {k: dataset_cfg.get(k, defaults.get(k)) for k in ('img_suffix', 'seg_map_suffix')}
    check_data_root(dataset_cfg.get('data_root'), dataset_cfg.get('data_prefix'),
                    img_suffix=suffix['img_suffix'] or '.jpg',
                    seg_map_suffix=suffix['seg_map_suffix'],
                    hint=prepare_hint(dataset_cfg.get('type')))


def _has_file(folder: str, suffix: str) -> bool:
    """Whether ``folder`` (recursively, as mmseg scans it) holds a file ending in ``suffix``."""
    for _, _, files in os.walk(folder):
        if any(f.endswith(suffix) for f in files):
            return True
    return False
