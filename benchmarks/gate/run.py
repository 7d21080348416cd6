"""Run the gate benchmark end to end and write its table and plot (CPU, resumable).

    python benchmarks/gate/run.py [--work-root work_dirs/gate_bench]
        [--data-root data/synthetic_bench] [--out-md docs/gate_benchmark.md]
        [--out-png docs/gate_benchmark.png] [--num-images N] [--jobs 2]
        [--runs NAME ...] [--levers]
    python benchmarks/gate/run.py --from-json docs/gate_benchmark.json \\
        [--out-md docs/gate_benchmark.md] [--out-png docs/gate_benchmark.png]
    python benchmarks/gate/run.py --list

Writes the benchmark scenes if absent, writes every run's complete config into its work dir
and trains stage 1 (ViT/16) and the stage-2 runs from its weights (a run whose last
checkpoint exists is skipped), evaluates each once (cached beside its checkpoint) and writes
the mIoU-vs-GMACs table, the gate-quality tables, the data's headroom and the targets, met
or missed, with the results as JSON beside the markdown (``--out-md`` with ``.json``).
``--from-json`` trains nothing: it writes the report of a results JSON again. The runs:
``benchmarks/gate/configs/runs.py``.
"""
import argparse
import os.path as osp
import shlex
import sys
import time
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

import msvit_mm  # noqa: E402,F401  (registers the modules)

from benchmarks.gate import report, runner  # noqa: E402
from benchmarks.gate.configs.runs import RUNS  # noqa: E402
from benchmarks.gate.synthetic_benchmark import make_synthetic_benchmark  # noqa: E402
from msvit_mm.analysis.table import plot_miou_vs_gmacs  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-root', default='work_dirs/gate_bench')
    parser.add_argument('--data-root', default='data/synthetic_bench',
                        help='folder for ADEChallengeData2016/ of the benchmark scenes')
    parser.add_argument('--out-md', default='docs/gate_benchmark.md')
    parser.add_argument('--out-png', default='docs/gate_benchmark.png',
                        help="the plot ('' for none)")
    parser.add_argument('--num-images', type=int, default=0,
                        help='validation images to evaluate on (<= 0: all)')
    parser.add_argument('--jobs', type=int, default=2,
                        help='training runs side by side, one thread each (default 2)')
    parser.add_argument('--runs', nargs='+', default=None,
                        help='stage-2 runs to do (default: the benchmark group), e.g. '
                             'target0.5-gbas-weight5 target0.5-gbas-weight5-within')
    parser.add_argument('--levers', action='store_true', help='the lever runs too')
    parser.add_argument('--from-json', metavar='JSON',
                        help='train nothing: write the report of this results file again')
    parser.add_argument('--list', action='store_true', help='print the runs and exit')
    args = parser.parse_args(argv)
    unknown = sorted(set(args.runs or []) - set(RUNS))
    if unknown:
        parser.error(f'unknown runs {unknown}; known: {list(RUNS)}')
    if args.jobs < 1:
        parser.error(f'--jobs must be >= 1, got {args.jobs}')
    return args


def write_report(results: dict, meta: dict, out_md: str, out_png: str) -> str:
    """Write the markdown (and the plot unless ``out_png`` is empty); returns the markdown."""
    text = report.render(results, meta, osp.basename(out_png) if out_png else None)
    with open(out_md, 'w') as f:
        f.write(text)
    if out_png:
        plot_miou_vs_gmacs(report.rows_of(results), out_png,
                           title='Gate benchmark: mIoU vs GMACs')
    return text


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    if args.list:
        for name, run in RUNS.items():
            print(f"{run['group']:9s} {name}")
        return {}
    if args.from_json:
        results, meta = report.load_results(args.from_json)
        print(write_report(results, meta, args.out_md, args.out_png))
        return results
    start = time.time()
    made = make_synthetic_benchmark(args.data_root, num_train=480, num_val=120)
    print(f"data: {made['data_root']} ({'written' if made['written'] else 'already there'})")
    groups = ('benchmark', 'lever') if args.levers else ('benchmark',)
    names = runner.run_names(groups)
    if args.runs:
        names = [runner.STAGE1] + [n for n in RUNS if n in set(args.runs)]
    runner.train_all(REPO, names, args.work_root, args.jobs)
    results = {name: runner.evaluate(name, args.work_root, args.num_images)
               for name in names if name != runner.STAGE1}
    meta = dict(command=' '.join(['python'] + [shlex.quote(a) for a in sys.argv]),
                minutes=(time.time() - start) / 60, rank_correlation=report.RANK_CORRELATION,
                data_share=report.uniform_region_share(made['data_root']))
    print(write_report(results, meta, args.out_md, args.out_png))
    report.save_results(osp.splitext(args.out_md)[0] + '.json', results, meta)
    return results


if __name__ == '__main__':
    main()
