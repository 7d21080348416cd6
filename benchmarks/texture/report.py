"""The real-texture benchmark's table and plot, from the result files of ``suite.sh``.

    python benchmarks/texture/report.py --results benchmarks/texture/results/v3/suite \
        --out docs/texture_table        # writes docs/texture_table.{md,json,png}

Reads ``model_<run>.json`` (``tools/analysis_tools/msvit_table.py``: own decisions, mIoU and
mean GMACs over the validation images) and ``gate_quality_<run>.json``
(``tools/analysis_tools/gate_quality.py`` at the run's coarse share) of the runs named
``<kind>-<share>[-seed1]`` (kinds: :data:`KINDS`; ``vit16-0``, ``vit32-1``).
Nothing is trained or evaluated here: the report is a function of the files, so a committed
table is remade from its JSON (``--from-json``).
"""
import argparse
import glob
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

from msvit_mm.analysis.markdown import markdown_table

KINDS = ('random', 'entropy', 'std', 'msvit', 'msvitimg', 'msvitimg25')
LABELS = dict(random='random gate', entropy='entropy rule', std='std rule',
              msvit='MSViT (learned gate)',
              msvitimg="MSViT, masked_query on half of each batch's images",
              msvitimg25="MSViT, masked_query on a quarter of each batch's images")
COLORS = dict(random='tab:orange', entropy='tab:green', std='tab:purple', msvit='tab:red',
              msvitimg='tab:brown', msvitimg25='tab:pink')
CHEAP = ('msvitimg', 'msvitimg25')  # cheaper forms of MSViT's training, compared at 0.5
SHARES = ('0.25', '0.5', '0.75')
SOURCES = ('learned', 'random', 'std', 'entropy', 'oracle')


def _load(path: str):
    with open(path) as f:
        return json.load(f)


def collect(results: str) -> Dict[str, dict]:
    """``{run: {'model': row, 'gate_quality': row at the run's share or None}}``."""
    runs: Dict[str, dict] = {}
    for path in sorted(glob.glob(osp.join(results, 'model_*.json'))):
        name = osp.basename(path)[len('model_'):-len('.json')]
        rows = _load(path)
        if len(rows) != 1:
            raise ValueError(f'{path}: expected one row, found {len(rows)}')
        gq_path = osp.join(results, f'gate_quality_{name}.json')
        gq = None
        if osp.isfile(gq_path):
            share = name.split('-')[1]
            gq = next((r for r in _load(gq_path)['rows'] if r['budget'] == share), None)
            if gq is None:
                raise ValueError(f'{gq_path}: no row at coarse share {share}')
        runs[name] = dict(model=rows[0], gate_quality=gq)
    return runs


def _mean(values: Sequence[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def _fmt(v: Optional[float], digits: int = 2, sign: bool = False) -> str:
    if v is None:
        return ''
    return f'{v:+.{digits}f}' if sign else f'{v:.{digits}f}'


def _diff(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or b is None else a - b


def summarize(runs: Dict[str, dict]) -> dict:
    """Means over seeds per (kind, share), the ViT/32 - ViT/16 line, the target checks."""
    ends = {k: runs[k]['model'] for k in ('vit16-0', 'vit32-1') if k in runs}

    def line(gmacs: float) -> Optional[float]:
        if len(ends) < 2:
            return None
        a, b = ends['vit32-1'], ends['vit16-0']
        return a['mIoU'] + (gmacs - a['gmacs']) * (b['mIoU'] - a['mIoU']) / (b['gmacs'] - a['gmacs'])

    groups: Dict[str, dict] = {}
    for kind in KINDS:
        for share in SHARES:
            names = (f'{kind}-{share}', f'{kind}-{share}-seed1')
            seeds = [runs[n] for n in names if n in runs]
            if not seeds:
                continue
            miou = [runs[n]['model']['mIoU'] if n in runs else None for n in names]  # seeds 0, 1
            gmacs = _mean([s['model']['gmacs'] for s in seeds])
            gq = [s['gate_quality'] for s in seeds if s['gate_quality']]
            quality = {src: _mean([g[src] for g in gq if src in g]) for src in SOURCES}
            groups[f'{kind}-{share}'] = dict(
                kind=kind, share=float(share), seeds=len(seeds), miou=miou,
                miou_mean=_mean([v for v in miou if v is not None]),
                gmacs=gmacs, coarse=_mean([s['model']['coarse_ratio'] for s in seeds]),
                line=line(gmacs), quality=quality, quality_seeds=len(gq))
    return dict(ends=ends, groups=groups, checks=checks(groups),
                cheap=[c for c in (cheap_margin(groups, k) for k in CHEAP) if c])


def cheap_margin(groups: Dict[str, dict], kind: str) -> Optional[dict]:
    """A cheaper form's learned - random margin against MSViT's at 0.5 (bar for a default:
    90% of it); None without both, ``share`` None unless MSViT's margin is positive."""
    m, c = groups.get('msvit-0.5'), groups.get(f'{kind}-0.5')
    if not (m and c and m['quality_seeds'] and c['quality_seeds']):
        return None
    margin = {k: _diff(g['quality']['learned'], g['quality']['random'])
              for k, g in (('msvit', m), ('cheap', c))}
    if None in margin.values():
        return None
    return dict(margin, kind=kind, seeds=min(m['quality_seeds'], c['quality_seeds']),
                share=margin['cheap'] / margin['msvit'] if margin['msvit'] > 0 else None)


def checks(groups: Dict[str, dict]) -> List[dict]:
    """The issue's targets at each share, as measured (means of the seeds present)."""
    out = []
    for share in SHARES:
        m, e, r = (groups.get(f'{k}-{share}') for k in ('msvit', 'entropy', 'random'))
        if not m:
            continue
        items = []
        if e:
            items.append(('model vs entropy-rule model', m['miou_mean'] - e['miou_mean'], 2.0))
        if r:
            items.append(('model vs random-gate model', m['miou_mean'] - r['miou_mean'], 3.0))
        if m['line'] is not None:
            items.append(('model vs ViT/32-ViT/16 line', m['miou_mean'] - m['line'], 0.0))
        n = len(items)
        q = m['quality']
        items.append(('learned vs entropy decisions', _diff(q['learned'], q['entropy']), 2.0))
        items.append(('learned vs random decisions', _diff(q['learned'], q['random']), 3.0))
        items.append(('learned vs oracle decisions (stretch)', _diff(q['learned'], q['oracle']),
                      0.0))
        gm = [g['gmacs'] for g in (e, r) if g]
        for i, (what, value, bar) in enumerate(items):
            if value is None:
                continue
            out.append(dict(share=float(share), what=what, value=value, bar=bar,
                            met=value >= bar, seeds=m['seeds'] if i < n else m['quality_seeds'],
                            gmacs_gap=(m['gmacs'] / gm[0] - 1) if gm else None))
    return out


def render(summary: dict, command: str) -> str:
    ends, groups = summary['ends'], summary['groups']
    lines = ['# Real-texture benchmark: the full table', '',
             'Made by `' + command + '` (the runs: `bash benchmarks/texture/suite.sh`; what '
             'each run is: `benchmarks/texture/README.md`). mIoU on the 120 validation images '
             'of data version v3, own decisions of each stage-2 model (MSViT at the threshold '
             'calibrated on the training images to its share), GMACs the mean over the '
             'validation images; seeds 0 and 1 where both are present.', '',
             '## Whole models', '']
    head = ['stage-2 model', 'coarse share', 'seed 0', 'seed 1', 'mean', 'GMACs',
            'line at these GMACs', 'mean - line']
    rows = []
    for key, label in (('vit16-0', 'ViT/16 continued (all fine)'),
                       ('vit32-1', 'ViT/32 (all coarse)')):
        if key in ends:
            rows.append([label, key[-1], _fmt(ends[key]['mIoU']), '', '', _fmt(ends[key]['gmacs'], 4),
                         '', ''])
    for share in SHARES:
        for kind in KINDS:
            g = groups.get(f'{kind}-{share}')
            if not g:
                continue
            s = g['miou']
            rows.append([LABELS[kind], f"{g['coarse']:.3f}", _fmt(s[0]), _fmt(s[1]),
                         _fmt(g['miou_mean']), _fmt(g['gmacs'], 4), _fmt(g['line']),
                         _fmt(g['miou_mean'] - g['line'], sign=True) if g['line'] is not None else ''])
    lines += [markdown_table(head, rows, [False] + [True] * 7), '',
              '## Gate quality on each fixed model', '',
              'Each gated model run again with other decisions at its own share per image: '
              'its learned gate (the highest-probability regions), random regions (mean of 3 '
              'seeds), the std and entropy rules, the label oracle (label uniformity); mean '
              'over the seeds present.', '']
    head = ['stage-2 model', 'share'] + list(SOURCES) + ['learned - random', 'learned - entropy',
                                                          'learned - oracle']
    rows = []
    for share in SHARES:
        for kind in KINDS:
            g = groups.get(f'{kind}-{share}')
            if not g or not g['quality_seeds']:
                continue
            q = g['quality']
            rows.append([LABELS[kind], share] + [_fmt(q.get(s)) for s in SOURCES] + [
                _fmt(_diff(q.get('learned'), q.get(s)), sign=True)
                for s in ('random', 'entropy', 'oracle')])
    lines += [markdown_table(head, rows, [False] + [True] * 9), '', '## Targets', '',
              "The bars are the benchmark issue's, set at 0.5 coarse (the line at every "
              'share); at 0.25 and 0.75 the same bars are shown for reference. GMACs: MSViT '
              "against the rule models' at the same share.", '']
    head = ['share', 'MSViT', 'measured', 'target', 'met', 'seeds', 'GMACs vs the rule models']
    rows = [[f"{c['share']:g}", c['what'], _fmt(c['value'], sign=True), f">= {c['bar']:+g}",
             'yes' if c['met'] else 'no', c['seeds'],
             _fmt(100 * c['gmacs_gap'], 1, sign=True) + '%' if c['gmacs_gap'] is not None else '']
            for c in summary['checks']]
    lines += [markdown_table(head, rows, [True, False, True, True, False, True, True]), '']
    for cheap in summary.get('cheap') or []:
        kept = (f"keeps {100 * cheap['share']:.0f}% of" if cheap['share'] is not None
                else 'is compared with')
        lines += [f"{LABELS[cheap['kind']]} {kept} MSViT's learned - random margin at 0.5 "
                  f"({cheap['cheap']:+.2f} against {cheap['msvit']:+.2f}, {cheap['seeds']} "
                  f"seed(s) each; bar for a default: 90%).", '']
    return '\n'.join(lines)


def plot(summary: dict, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ends = summary['ends']
    if len(ends) == 2:
        a, b = ends['vit32-1'], ends['vit16-0']
        ax.plot([a['gmacs'], b['gmacs']], [a['mIoU'], b['mIoU']], 's--', color='tab:gray',
                label='ViT/32 - ViT/16')
    for kind in KINDS:
        gs = sorted((g for g in summary['groups'].values() if g['kind'] == kind),
                    key=lambda g: g['gmacs'])
        if not gs:
            continue
        ax.plot([g['gmacs'] for g in gs], [g['miou_mean'] for g in gs], 'o-',
                color=COLORS[kind], label=LABELS[kind] + ' (mean of seeds)')
        for g in gs:
            values = [v for v in g['miou'] if v is not None]
            ax.scatter([g['gmacs']] * len(values), values, s=12, alpha=0.4, color=COLORS[kind])
    ax.set_xlabel('GMACs per image (mean over validation images)')
    ax.set_ylabel('mIoU (%)')
    ax.set_title('Real-texture benchmark (v3): coarse shares 0.25 / 0.5 / 0.75')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    fig.savefig(path)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--results', help='folder of model_*.json and gate_quality_*.json')
    parser.add_argument('--from-json', help='a summary this tool wrote (instead of --results)')
    parser.add_argument('--out', required=True, help='output path without extension')
    args = parser.parse_args(argv)
    if bool(args.results) == bool(args.from_json):
        parser.error('give exactly one of --results and --from-json')
    if args.results:
        runs = collect(args.results)
        if not runs:
            raise SystemExit(f'{args.results}: no model_*.json files')
        summary = summarize(runs)
        command = f'python benchmarks/texture/report.py --results {args.results} --out {args.out}'
        summary['command'] = command
    else:
        summary = _load(args.from_json)
        command = summary['command']
    with open(args.out + '.json', 'w') as f:
        json.dump(summary, f, indent=1)
    with open(args.out + '.md', 'w') as f:
        f.write(render(summary, command))
    plot(summary, args.out + '.png')
    print(f'wrote {args.out}.md, .json, .png')


if __name__ == '__main__':
    main()
