"""Pictures of an MSViT's gate decisions and prediction on image files.

    python tools/analysis_tools/visualize_gates.py CONFIG CHECKPOINT IMAGE [IMAGE ...]
        [--out-dir DIR] [--threshold T] [--cfg-options key=value ...]

Each image goes through the config's test pipeline and the model's data preprocessor, then
the backbone's gate (``forward_with_aux``) and ``model.predict``
(:class:`msvit_mm.analysis.image_files.ImageFiles`). Written to
``DIR/<image name>.png``: [image with its token layout | ground truth | prediction], all at
the file's own size; fine regions are tinted with their 16 px grid, coarse regions outlined
(:func:`msvit_mm.analysis.gate_vis.draw_gate`). The ground truth is the label file of an
ADE20K-style layout (``.../images/<split>/x.jpg`` -> ``.../annotations/<split>/x.png``);
without one the panel is left out. The layout is the gate's decision on the whole
preprocessed image (with a 'slide' test mode each crop decides on its own). A classification
config (configs/msvit_cls): the image as the network saw it with its layout, captioned with
the predicted class and score, the true class (the image's folder, if a class) and the
coarse ratio and tokens (:class:`msvit_mm.analysis.cls_image_files.ClassImageFiles`).
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import msvit_mm  # noqa: E402,F401  (registers the modules)
import cv2  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from msvit_mm.analysis.image_files import ImageFiles  # noqa: E402
from msvit_mm.analysis.loading import build_model, is_classification, load_config  # noqa: E402


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
                        help="the MLPGate's threshold in [0, 1] (default: the config's); refused "
                        'for a gate without one')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, xxx=yyy pairs (as in mmseg)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> List[str]:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model = build_model(cfg, args.checkpoint)
    tokenizer = getattr(model.backbone, 'tokenizer', None)
    if tokenizer is None or not hasattr(model.backbone, 'forward_with_aux'):
        raise SystemExit(f'{args.config}: the backbone has no gate (not an MSViT)')
    if args.threshold is not None:
        try:
            tokenizer.gate_threshold = args.threshold
        except AttributeError as e:
            raise SystemExit(f'--threshold {args.threshold}: {e}; leave --threshold out') from None
    if is_classification(cfg):
        from msvit_mm.analysis.cls_image_files import ClassImageFiles
        images = ClassImageFiles(cfg.test_dataloader.dataset)
    else:
        images = ImageFiles(cfg.test_dataloader.dataset)
    os.makedirs(args.out_dir, exist_ok=True)
    written = []
    for img_path in args.images:
        if not osp.isfile(img_path):
            raise FileNotFoundError(f'image file not found: {img_path}')
        figure = images.gate_figure(model, img_path)
        out = osp.join(args.out_dir, osp.splitext(osp.basename(img_path))[0] + '.png')
        cv2.imwrite(out, figure[..., ::-1])
        written.append(out)
        if is_classification(cfg):
            print(f'{out}: image+gate, predicted class')
        else:
            label = images.label_of(img_path)
            panels = 'image+gate | label | prediction' if label else 'image+gate | prediction'
            print(f'{out}: {panels}')
    return written


if __name__ == '__main__':
    main()
