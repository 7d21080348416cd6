"""Table and plot of mIoU (or top-1 accuracy) against GMACs for trained runs (MSViT and baselines).

    python tools/analysis_tools/msvit_table.py WORK_DIR [WORK_DIR ...] [--out-md PATH]
        [--out-png PATH] [--out-json PATH] [--num-images N] [--thresholds 0.3,0.5,0.7]
        [--cfg-options key=value ...]

Each WORK_DIR is a ``tools/train.py`` work dir: its dumped config and last checkpoint are
loaded; mIoU is the run's validation at that checkpoint (``scalars.json``), or evaluated here
when none was logged. GMACs (fvcore MACs, backbone + neck + decode head), tokens per image and
coarse ratio are means over N validation images (default: all) with the real gate decisions
(:mod:`msvit_mm.analysis.flops`). kind: 'msvit' for a learned gate, 'baseline' for a forced
one (all_fine / all_coarse / random) or a plain ViT. With ``--thresholds`` every learned-gate
run is evaluated at each gate threshold, one row and one point of a curve each, so a whole
accuracy/compute curve comes from one trained model. Rows are sorted by GMACs.
Classification work dirs (configs/msvit_cls) give top-1 accuracy instead of mIoU (logged
``accuracy/top1``, or evaluated here with mmpretrain's ``Accuracy``); one table holds runs of
one kind.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import msvit_mm  # noqa: E402,F401  (registers the modules)
from mmengine.config import DictAction  # noqa: E402

from msvit_mm.analysis.table import (markdown_table, plot_miou_vs_gmacs,  # noqa: E402
                                     table_rows)


def _thresholds(text: str) -> List[float]:
    try:
        values = [float(v) for v in text.split(',') if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a comma-separated list of numbers: {text!r}')
    if not values or any(not 0. <= v <= 1. for v in values):
        raise argparse.ArgumentTypeError(f'thresholds must lie in [0, 1], got {text!r}')
    return sorted(values)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+', metavar='WORK_DIR', help='tools/train.py work dir')
    parser.add_argument('--out-md', help='write the Markdown table here')
    parser.add_argument('--out-png', help='write the mIoU (top-1)-vs-GMACs plot here')
    parser.add_argument('--out-json', help='write the rows here')
    parser.add_argument('--num-images', type=int, default=None,
                        help='validation images to count on (default, or <= 0: all)')
    parser.add_argument('--thresholds', type=_thresholds,
                        help='gate thresholds for learned-gate runs, e.g. 0.3,0.5,0.7')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in every run\'s config, xxx=yyy pairs')
    return parser.parse_args(argv)


def _write(path: str, text: str) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    print(f'wrote {path}')


def main(argv: Optional[List[str]] = None) -> list:
    args = parse_args(argv)
    rows = table_rows(args.work_dirs, args.num_images, args.thresholds or (),
                      args.cfg_options, progress=True)
    if args.thresholds and not any(r['threshold'] is not None for r in rows):
        raise SystemExit('--thresholds: none of the work dirs has a learned gate (MSViT)')
    table = markdown_table(rows)
    print(table)
    if args.out_md:
        _write(args.out_md, table + '\n')
    if args.out_json:
        _write(args.out_json, json.dumps(rows, indent=1))
    if args.out_png:
        os.makedirs(osp.dirname(osp.abspath(args.out_png)), exist_ok=True)
        plot_miou_vs_gmacs(rows, args.out_png)
        print(f'wrote {args.out_png}')
    return rows


if __name__ == '__main__':
    main()
