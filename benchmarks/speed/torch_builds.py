"""CPU speed of two Python environments (two torch builds) on the same MSViT/ViT timings.

    python benchmarks/speed/torch_builds.py PYTHON_A PYTHON_B [--rounds 4] [--sizes 256 512]

Runs ``benchmarks/speed/benchmark_packed.py`` (inference, batch 1, 0 and 0.5 coarse, CPU clock,
1 thread) under each interpreter, in alternating rounds (A B, then B A, ...), so that load on a
shared machine falls on both alike, and prints the median time of each model per environment
and the ratio B / A. Written for the choice of torch build (the CPU wheel against the
registry's CUDA build that also runs on the CPU), measured in docs/environment.md.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
from typing import Dict, List, Tuple

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODELS = ('msvit_s', 'vit_s', 'vit_sdpa_s')


def run_once(python: str, sizes: List[int], out: str) -> List[dict]:
    """One ``benchmark_packed.py`` inference run under ``python``; its rows."""
    cmd = [python, osp.join(ROOT, 'benchmarks/speed/benchmark_packed.py'), '--no-train',
           '--no-segmentor', '--sizes', *map(str, sizes), '--batches', '1', '--ratios', '0',
           '0.5', '--repeats', '3', '--threads', '1', '--clock', 'cpu', '--json', out]
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)['inference']


def version(python: str) -> str:
    return subprocess.run([python, '-c', 'import torch; print(torch.__version__)'],
                          check=True, capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('python_a')
    parser.add_argument('python_b')
    parser.add_argument('--rounds', type=int, default=4)
    parser.add_argument('--sizes', type=int, nargs='+', default=[256, 512])
    args = parser.parse_args()
    pythons = (args.python_a, args.python_b)
    times: Dict[Tuple[int, str, float, str], List[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for i in ((0, 1) if r % 2 == 0 else (1, 0)):
                for row in run_once(pythons[i], args.sizes, osp.join(tmp, f'{r}_{i}.json')):
                    for m in MODELS:
                        key = (i, m, row['ratio'], row['size'])
                        times.setdefault(key, []).append(row[m])
    names = [f'A: torch {version(args.python_a)}', f'B: torch {version(args.python_b)}']
    print(f'{names[0]} | {names[1]} | {args.rounds} alternating rounds, CPU clock, 1 thread\n')
    print('| size | coarse | model | A ms | B ms | B / A |\n|---|---|---|---|---|---|')
    for (i, m, ratio, size) in sorted(k for k in times if k[0] == 0):
        a = statistics.median(times[(0, m, ratio, size)]) * 1e3
        b = statistics.median(times[(1, m, ratio, size)]) * 1e3
        if m != 'msvit_s' and ratio:
            continue  # the ViTs do not depend on the coarse ratio
        print(f'| {size} | {ratio:.2f} | {m[:-2]} | {a:.1f} | {b:.1f} | {b / a:.3f} |')


if __name__ == '__main__':
    sys.exit(main())
