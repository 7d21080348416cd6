"""Early, readable checks on a classification dataset's folders (mmpretrain layouts).

mmpretrain's ``CustomDataset`` / ``ImageNet`` scan ``data_root/data_prefix`` (one folder
per class, or an ``ann_file`` list) and report a missing folder from deep inside the file
backend. :func:`check_cls_dataset` names what is missing and how to make the data.
"""
import os
import os.path as osp
from typing import Mapping

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif')  # mmpretrain's
CLS_HINT = ('Classification data: mmpretrain\'s CustomDataset layout '
            '<data_root>/<data_prefix>/<class_name>/<image> (or an ann_file), e.g. ImageNet '
            'under data/imagenet/{train,val} as mmpretrain\'s docs describe, or the small '
            'embedded set: python tools/dataset_converters/make_object_cls.py --root '
            'data/objects_cls; point a config at the data with --cfg-options '
            '<loader>.dataset.data_root=...')


def check_cls_dataset(dataset_cfg: Mapping) -> None:
    """Raise FileNotFoundError naming the folder (or ann_file) a classification dataset
    config points at when it is missing or holds no image; wrappers: every inner dataset."""
    if not dataset_cfg:
        return
    for inner in list(dataset_cfg.get('datasets') or []) + (
            [dataset_cfg['dataset']] if isinstance(dataset_cfg.get('dataset'), Mapping) else []):
        check_cls_dataset(inner)
    root = osp.expanduser(dataset_cfg.get('data_root') or '')
    prefix = dataset_cfg.get('data_prefix') or ''
    if isinstance(prefix, Mapping):
        prefix = prefix.get('img_path', '') or ''
    if not (root or prefix):
        return
    folder = osp.join(root, osp.expanduser(prefix))
    if not osp.isdir(folder):
        raise FileNotFoundError(f'classification data folder {folder!r} (data_root {root!r}, '
                                f'data_prefix {prefix!r}) does not exist. {CLS_HINT}')
    ann = dataset_cfg.get('ann_file') or ''
    if ann and not osp.isfile(osp.join(root, osp.expanduser(ann))):
        raise FileNotFoundError(f'ann_file {osp.join(root, ann)!r} does not exist. {CLS_HINT}')
    extensions = tuple(e.lower() for e in dataset_cfg.get('extensions', IMAGE_EXTENSIONS))
    for _, _, files in os.walk(folder):
        if any(f.lower().endswith(extensions) for f in files):
            return
    raise FileNotFoundError(f'classification data folder {folder!r} holds no image '
                            f'({", ".join(extensions)}). {CLS_HINT}')
