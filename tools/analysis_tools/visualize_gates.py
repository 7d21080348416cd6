"""Pictures of an MSViT's gate decisions and prediction on image files.

    python tools/analysis_tools/visualize_gates.py CONFIG CHECKPOINT IMAGE [IMAGE ...]
        [--out-dir DIR] [--threshold T] [--cfg-options key=value ...]

Each image goes through the config's test pipeline and the model's data preprocessor, then
the backbone's gate (``forward_with_aux``) and ``model.predict``. Written to
``DIR/<image name>.png``: [image with its token layout | ground truth | prediction], all at
the file's own size; fine regions are tinted with their 16 px grid, coarse regions outlined
(:func:`msvit_mm.analysis.gate_vis.draw_gate`). The ground truth is the label file of an
ADE20K-style layout (``.../images/<split>/x.jpg`` -> ``.../annotations/<split>/x.png``);
without one the panel is left out. The layout is the gate's decision on the whole
preprocessed image (with a 'slide' test mode each crop decides on its own).
"""
import argparse
import inspect
import os
import os.path as osp
import sys
import warnings
from typing import List, Optional

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import msvit_mm  # noqa: E402,F401  (registers the modules)
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.dataset import Compose, pseudo_collate  # noqa: E402

from msvit_mm.analysis.gate_vis import gate_picture  # noqa: E402
from msvit_mm.analysis.loading import build_model, load_config  # noqa: E402


def unit_interval(text: str) -> float:
    """argparse type: a probability threshold in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'{text} is outside [0, 1] (a threshold on the '
                                         "gate's probability)")
    return value


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('images', nargs='+', metavar='IMAGE', help='image files')
    parser.add_argument('--out-dir', default='work_dirs/gates', help='where the PNGs go')
    parser.add_argument('--threshold', type=unit_interval,
                        help="gate threshold in [0, 1] (learned gate; default: the config's)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, xxx=yyy pairs (as in mmseg)')
    return parser.parse_args(argv)


def label_path(img_path: str, suffix: str = '.png') -> Optional[str]:
    """The ADE20K-layout label file of an image, if it exists."""
    parts = osp.abspath(img_path).split(os.sep)
    if 'images' not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index('images')
    parts[i] = 'annotations'
    path = osp.splitext(os.sep.join(parts))[0] + suffix
    return path if osp.isfile(path) else None


def _is_annotation_loader(step: dict) -> bool:
    return 'LoadAnnotations' in str(step.get('type'))


def _reduce_zero_label(dataset_cfg: dict, pipeline: list) -> bool:
    """What the dataset would pass the annotation loader as ``reduce_zero_label``."""
    for step in pipeline:
        if _is_annotation_loader(step) and step.get('reduce_zero_label') is not None:
            return bool(step['reduce_zero_label'])
    if 'reduce_zero_label' in dataset_cfg:
        return bool(dataset_cfg['reduce_zero_label'])
    from mmseg.registry import DATASETS
    default = inspect.signature(DATASETS.get(dataset_cfg['type'])).parameters.get(
        'reduce_zero_label')
    return bool(default.default) if default is not None else False


def _palette(dataset_cfg: dict) -> np.ndarray:
    from mmseg.registry import DATASETS
    meta = dataset_cfg.get('metainfo') or {}
    palette = meta.get('palette') or DATASETS.get(dataset_cfg['type']).METAINFO['palette']
    return np.asarray(palette, dtype=np.uint8)


def gate_figure(model, pipeline: Compose, img_path: str, label: Optional[str],
                reduce_zero_label: bool, palette: np.ndarray) -> np.ndarray:
    """[image + layout | ground truth (if ``label``) | prediction], uint8 RGB."""
    data = pipeline(dict(img_path=img_path, seg_map_path=label, reduce_zero_label=reduce_zero_label,
                         seg_fields=[], label_map=None))
    with torch.no_grad():
        batch = model.data_preprocessor(pseudo_collate([data]), training=False)
    return gate_picture(model, batch, palette, with_label=label is not None)


def main(argv: Optional[List[str]] = None) -> List[str]:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model = build_model(cfg, args.checkpoint)
    tokenizer = getattr(model.backbone, 'tokenizer', None)
    if tokenizer is None or not hasattr(model.backbone, 'forward_with_aux'):
        raise SystemExit(f'{args.config}: the backbone has no gate (not an MSViT)')
    if args.threshold is not None:
        if not tokenizer.gate.learned:
            warnings.warn(f'--threshold has no effect on a {type(tokenizer.gate).__name__}')
        tokenizer.gate_threshold = args.threshold
    dataset_cfg = cfg.test_dataloader.dataset
    steps = list(dataset_cfg.pipeline)
    with_label = Compose(steps)
    without_label = Compose([s for s in steps if not _is_annotation_loader(s)])
    reduce = _reduce_zero_label(dataset_cfg, steps)
    suffix = dataset_cfg.get('seg_map_suffix', '.png')
    palette = _palette(dataset_cfg)
    os.makedirs(args.out_dir, exist_ok=True)
    written = []
    for img_path in args.images:
        if not osp.isfile(img_path):
            raise FileNotFoundError(f'image file not found: {img_path}')
        label = label_path(img_path, suffix)
        figure = gate_figure(model, with_label if label else without_label, img_path, label,
                             reduce, palette)
        out = osp.join(args.out_dir, osp.splitext(osp.basename(img_path))[0] + '.png')
        cv2.imwrite(out, figure[..., ::-1])
        written.append(out)
        print(f"{out}: {'image+gate | label | prediction' if label else 'image+gate | prediction'}")
    return written


if __name__ == '__main__':
    main()
