"""The gate levers' table: gate quality at 0.5 coarse of each lever run beside the MSViT row.

Reads ``results/v3/gate_quality_<run>.json`` (written by ``levers.sh``, ``seeds.sh`` and
``run.sh``) and writes one Markdown table, each row with its margins over the random, std
and entropy regions of the same model. A run whose file is missing is reported as missing.
    python benchmarks/texture/levers_table.py --out benchmarks/texture/results/v3/levers.md
"""
import argparse
import json
import os.path as osp
from typing import List

RESULTS = osp.join(osp.dirname(osp.abspath(__file__)), 'results', 'v3')
RUNS = (  # (row, gate_quality file stem)
    ('MSViT (masked, the reference row)', 'msvit-t-t0.5-w1'),
    ('MSViT + APT coarse aggregation', 'msvit-t-t0.5-w1-apt_upernet_1xb8-s2-300_texture-128x128'),
    ('MSViT, statistics gate', 'msvit-t-t0.5-w1-statgate_upernet_1xb8-s2-300_texture-128x128'),
    ('MSViT, entropy-initialized residual gate',
     'msvit-t-t0.5-w1-residual_upernet_1xb8-s2-300_texture-128x128'),
    ('MSViT (masked, the reference row), seed 1', 'msvit-t-t0.5-w1-seed1'),
    ('MSViT, statistics gate, seed 1',
     'msvit-t-t0.5-w1-statgate_upernet_1xb8-s2-300_texture-128x128-seed1'),
    ('random gate 0.5 (reference)', 'random-0.5'),
    ('random gate 0.5 + APT coarse aggregation',
     'random-0.5-apt_upernet_1xb8-s2-300_texture-128x128'),
)
COLUMNS = ('learned', 'random', 'std', 'entropy', 'oracle')


def row_at(path: str, budget: str = '0.5') -> dict:
    """The ``budget`` row of a gate-quality JSON file."""
    with open(path, encoding='utf-8') as f:
        rows = json.load(f)['rows']
    found = [r for r in rows if r['budget'] == budget]
    if not found:
        raise ValueError(f'{path}: no row for the budget {budget!r}')
    return found[0]


def fmt(value) -> str:
    return '' if value is None else f'{value:.2f}'


def table(results: str = RESULTS) -> List[str]:
    """Markdown lines: one row per run of ``RUNS`` (missing files named as such)."""
    head = ('| stage-2 model (seed 0 unless named) | ' + ' | '.join(COLUMNS)
            + ' | learned - random | learned - std | learned - entropy |')
    lines = [head, '|' + ' --- |' * (len(COLUMNS) + 4)]
    for name, stem in RUNS:
        path = osp.join(results, f'gate_quality_{stem}.json')
        if not osp.exists(path):
            lines.append(f'| {name} | not run (no {osp.basename(path)}) |' + ' |' * 7)
            continue
        r = row_at(path)
        learned = r.get('learned')
        margins = [None if learned is None else learned - r[k] for k in ('random', 'std',
                                                                          'entropy')]
        lines.append(f'| {name} | ' + ' | '.join(fmt(r.get(k)) for k in COLUMNS) + ' | '
                     + ' | '.join(fmt(m) for m in margins) + ' |')
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--results', default=RESULTS, help='folder of the gate-quality JSONs')
    parser.add_argument('--out', help='Markdown file to write (default: print)')
    args = parser.parse_args()
    text = '\n'.join(table(args.results)) + '\n'
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(text)
    print(text, end='')


if __name__ == '__main__':
    main()
