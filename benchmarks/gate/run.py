"""Run the gate benchmark end to end and write its table and plot (CPU, resumable).

    python tools/analysis_tools/gate_benchmark.py [--work-root work_dirs/gate_bench]
        [--data-root data/synthetic_bench] [--out-md docs/gate_benchmark.md]
        [--out-png docs/gate_benchmark.png] [--num-images N] [--jobs 2] [--runs NAME ...]

Writes the benchmark scenes if absent, trains stage 1 (ViT/16) and every stage-2 run of
``configs/gate_benchmark/`` from its weights (a run whose last checkpoint exists is skipped),
evaluates each once (cached beside its checkpoint) and writes the mIoU-vs-GMACs table, the
gate-quality tables, the data's headroom and the targets, met or missed. The library is
:mod:`msvit_mm.analysis.gate_benchmark`.
"""
import argparse
import json
import os.path as osp
import sys
import time
from typing import List, Optional

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import msvit_mm  # noqa: E402,F401  (registers the modules)

from msvit_mm.analysis import gate_benchmark as gb  # noqa: E402
from msvit_mm.analysis.gate_quality import markdown as gq_markdown  # noqa: E402
from msvit_mm.analysis.table import markdown_table, plot_miou_vs_gmacs  # noqa: E402
from msvit_mm.datasets.synthetic_benchmark import make_synthetic_benchmark  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-root', default='work_dirs/gate_bench')
    parser.add_argument('--data-root', default='data/synthetic_bench',
                        help='folder for ADEChallengeData2016/ of the benchmark scenes')
    parser.add_argument('--out-md', default='docs/gate_benchmark.md')
    parser.add_argument('--out-png', default='docs/gate_benchmark.png')
    parser.add_argument('--num-images', type=int, default=0,
                        help='validation images to evaluate on (<= 0: all)')
    parser.add_argument('--jobs', type=int, default=2,
                        help='training runs side by side, one thread each (default 2)')
    parser.add_argument('--runs', nargs='+', default=None,
                        help='stage-2 runs to do (default: all but the levers), e.g. '
                             'msvit-t-t0.5 msvit-t-t0.5-within')
    return parser.parse_args(argv)


def _report(args, rows, results, seconds: float) -> str:
    lines = ['# Gate benchmark', '',
             f"Made by `{' '.join(['python'] + sys.argv)}` "
             f'({seconds / 60:.0f} min for what was not already trained or evaluated; '
             'a finished run and its evaluation are reused). '
             'Stage 1: ViT/16 from scratch, 800 iterations; stage 2: every run from its '
             'weights, 300 iterations each. The data: the benchmark scenes '
             '(`msvit_mm/datasets/synthetic_benchmark.py`).', '',
             '## mIoU against GMACs', '', markdown_table(rows), '',
             f'![mIoU vs GMACs]({osp.basename(args.out_png)})', '', '## Targets', '']
    lines += gb.target_checks(rows, results) + ['']
    head = gb.headroom_line(results)
    share = gb.uniform_region_share(osp.join(args.data_root, 'ADEChallengeData2016'))
    lines += ['## Headroom of the data', '',
              f"Label-uniform 32x32 regions per validation image: {100 * share['mean']:.1f}% "
              f"on average (std {100 * share['std']:.1f}, {100 * share['min']:.0f}-"
              f"{100 * share['max']:.0f}%, {share['num_images']} images).", '']
    if head:
        lines += [head, '']
    lines += ['## The learned gates at a glance', '',
              'Each learned run at its calibrated threshold; gate quality on its fixed model at '
              "its own per-image counts (learned, random, std rule, oracle: mIoU); the spread "
              'of the per-image mean probability over images against the mean spread within '
              'an image; the mean within-image rank correlation of the probability with label '
              'uniformity.', '', gb.lever_table(results), '',
              '## What the straight-through gradient tells the gate', '',
              'Each fixed learned model, 64 training images, every region forced coarse, then '
              'fine; the decode loss back-propagated through masked execution to the gate '
              'logits (a positive gradient says: rather fine).', '', gb.signal_table(results),
              '']
    for name, res in results.items():
        gq = res.get('gate_quality')
        if not gq or not res['learned']:
            continue
        lines += [f"## Gate quality: {name.replace(gb.STAGE2_SUFFIX, '')}", '',
                  'The same trained model, run with other decisions of the same size per image '
                  '(mIoU):', '', gq_markdown(gq)]
        stats = gq.get('gate_statistics', {})
        lines += [f'- {k}: {v:.3f}' for k, v in stats.items()] + ['']
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    start = time.time()
    made = make_synthetic_benchmark(args.data_root, num_train=480, num_val=120)
    print(f"data: {made['data_root']} ({'written' if made['written'] else 'already there'})")
    names = gb.run_names()
    if args.runs:
        wanted = {n + gb.STAGE2_SUFFIX for n in args.runs}
        known = gb.run_names(levers=True)
        unknown = wanted - set(known)
        if unknown:
            raise SystemExit(f'unknown runs {sorted(unknown)}; known: {gb.STAGE2 + gb.LEVERS}')
        names = [gb.STAGE1] + [n for n in known if n in wanted]
    gb.train_all(REPO, names, args.work_root, args.jobs)
    results = {name: gb.evaluate(REPO, name, args.work_root, args.num_images)
               for name in names if name != gb.STAGE1}
    rows = sorted((gb.table_row(r) for r in results.values()), key=lambda r: r['gmacs'])
    report = _report(args, rows, results, time.time() - start)
    print(report)
    gb.ensure_dirs(args.out_md)
    with open(args.out_md, 'w') as f:
        f.write(report)
    with open(osp.splitext(args.out_md)[0] + '.json', 'w') as f:
        json.dump(results, f, indent=1)
    plot_miou_vs_gmacs(rows, args.out_png, title='Gate benchmark: mIoU vs GMACs')
    return results


if __name__ == '__main__':
    main()
