"""Set a learned gate's inference threshold so that a target share of regions stays coarse.

    python tools/analysis_tools/calibrate_gate.py CONFIG CHECKPOINT --target 0.5
        [--split train|val] [--num-images N] [--json PATH] [--cfg-options key=value ...]

A gate trained towards a coarse share t reaches another share at inference (no Gumbel
noise, threshold 0.5). This pools the gate's probabilities over the images of ``--split``
(the training images by default, loaded by the test pipeline) and prints the threshold that
gives the target share, as a ``--cfg-options`` argument for ``tools/test.py`` and the
analysis tools, so each model of a table is reported at the share it was trained for.
"""
import argparse
import json
import math
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import msvit_mm  # noqa: E402,F401  (registers the modules)
from mmengine.config import DictAction  # noqa: E402

from msvit_mm.analysis.gate_quality import calibrate  # noqa: E402
from msvit_mm.analysis.loading import (build_model, build_train_images,  # noqa: E402
                                       build_val_dataset, load_config)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='trained checkpoint')
    parser.add_argument('--target', type=float, required=True,
                        help='coarse share to reach, in (0, 1)')
    parser.add_argument('--split', choices=('train', 'val'), default='train',
                        help='images to calibrate on (default: the training images)')
    parser.add_argument('--num-images', type=int, default=0, help='images to use (<= 0: all)')
    parser.add_argument('--json', help='write the result here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, xxx=yyy pairs (as in mmseg)')
    args = parser.parse_args(argv)
    if not 0.0 < args.target < 1.0:
        parser.error(f'--target must lie in (0, 1), got {args.target}')
    return args


def threshold_option(threshold: float) -> str:
    """The ``--cfg-options`` pair that sets the gate's threshold."""
    return f'model.backbone.gate.threshold={threshold:.6f}'


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model = build_model(cfg, args.checkpoint)
    gate = getattr(getattr(model.backbone, 'tokenizer', None), 'gate', model.backbone)
    if not hasattr(gate, 'threshold'):
        raise SystemExit(f'{args.config}: the {type(gate).__name__} has no threshold to '
                         'calibrate (only MLPGate thresholds a probability)')
    dataset = build_train_images(cfg) if args.split == 'train' else build_val_dataset(cfg)
    result = calibrate(model, dataset, args.target, args.num_images)
    bad = [k for k in ('threshold', 'coarse_ratio', 'coarse_ratio_at_default')
           if not math.isfinite(result[k])]
    if bad:  # never print or write a NaN threshold
        sys.exit(f'calibrate_gate.py: the gate of {args.checkpoint} gives non-finite '
                 f'probabilities on the {args.split} images ({", ".join(bad)} not finite); '
                 'nothing written. Is the checkpoint from a diverged run?')
    result.update(target=args.target, split=args.split,
                  cfg_options=threshold_option(result['threshold']))
    print(f"threshold {result['threshold']:.6f}: coarse share {result['coarse_ratio']:.3f} on "
          f"{result['num_images']} {args.split} images (target {args.target:g}; "
          f"{result['coarse_ratio_at_default']:.3f} at threshold 0.5)")
    print(f"use: --cfg-options {result['cfg_options']}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == '__main__':
    main()
