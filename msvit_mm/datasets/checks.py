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
from typing import Dict, List, Mapping, Optional

__all__ = ['check_data_root', 'check_dataset', 'check_labels', 'PREPARE_HINT', 'prepare_hint']

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


def check_labels(dataset_cfg: Mapping, max_exact: int = 64, num_sampled: int = 16) -> None:
    """Refuse a dataset none of whose label maps holds a labelled pixel.

    With every pixel ignored (``ignore_index``, and 0 under ``reduce_zero_label``) training
    runs without a word: accuracy 100, the label loss pushes every region coarse, mIoU nan.
    Up to ``max_exact`` label files are all read (a ``ValueError`` if none is labelled); of a
    larger set, ``num_sampled`` spread over it (a warning if none is). Wrappers: every dataset
    inside.
    """
    if not dataset_cfg:
        return
    for inner in list(dataset_cfg.get('datasets') or []) + (
            [dataset_cfg['dataset']] if isinstance(dataset_cfg.get('dataset'), Mapping) else []):
        check_labels(inner, max_exact, num_sampled)
    prefix = (dataset_cfg.get('data_prefix') or {}).get('seg_map_path')
    if prefix is None:
        return
    defaults = _defaults(dataset_cfg.get('type'))
    folder = osp.join(osp.expanduser(dataset_cfg.get('data_root') or ''), osp.expanduser(prefix))
    suffix = dataset_cfg.get('seg_map_suffix', defaults.get('seg_map_suffix')) or '.png'
    files = _label_files(folder, suffix)
    if not files:
        return  # check_data_root reports a missing or empty folder
    exact = len(files) <= max_exact
    picked = files if exact else [files[i * len(files) // num_sampled]
                                  for i in range(num_sampled)]
    reduce_zero = bool(dataset_cfg.get('reduce_zero_label',
                                       defaults.get('reduce_zero_label', False)))
    ignore = int(dataset_cfg.get('ignore_index', defaults.get('ignore_index', 255)))
    if any(_labelled(path, reduce_zero, ignore) for path in picked):
        return
    what = f'ignore_index {ignore}' + (' or 0 (reduce_zero_label=True maps 0 to the ignore '
                                       'index)' if reduce_zero else '')
    msg = (f'{"none" if exact else f"none of the {num_sampled} sampled"} of the '
           f'{len(files)} label maps in {folder!r} holds a labelled pixel: every value is '
           f'{what}, e.g. {picked[0]!r}. Training on them learns nothing (accuracy 100, '
           'mIoU nan). Check the annotations and the dataset\'s reduce_zero_label.')
    if exact:
        raise ValueError(msg)
    import warnings
    warnings.warn(msg)


def _label_files(folder: str, suffix: str) -> List[str]:
    return sorted(osp.join(root, f) for root, _, files in os.walk(folder)
                  for f in files if f.endswith(suffix))


def _labelled(path: str, reduce_zero_label: bool, ignore_index: int) -> bool:
    """Whether the label map ``path`` (read as mmseg reads it) has a pixel that is trained on."""
    import mmcv
    import numpy as np
    label = mmcv.imread(path, flag='unchanged', backend='pillow')
    if label is None:
        return True  # unreadable: CheckedLoadAnnotations names it when it is loaded
    label = np.asarray(label)
    valid = label != ignore_index
    if reduce_zero_label:
        valid &= (label != 0) & (label != 255)
    return bool(valid.any())


def _has_file(folder: str, suffix: str) -> bool:
    """Whether ``folder`` (recursively, as mmseg scans it) holds a file ending in ``suffix``."""
    for _, _, files in os.walk(folder):
        if any(f.endswith(suffix) for f in files):
            return True
    return False
