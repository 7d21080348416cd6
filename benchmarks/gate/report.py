"""The gate benchmark's report: markdown from the evaluated runs, and nothing else.

``render(results, meta)`` is a function of the results JSON that ``run.py`` writes
(``{run: evaluation, ..., '_report': meta}``), so a committed table is regenerated from its
JSON without training (``python benchmarks/gate/run.py --from-json docs/gate_benchmark.json``).
Results of earlier runs may carry the old config names; they are shown under the current
ones (``configs/runs.py``, ``OLD_NAMES``).
"""
import glob
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from msvit_mm.analysis.gate_quality import markdown as gate_quality_markdown
from msvit_mm.analysis.markdown import markdown_table as _table
from msvit_mm.analysis.table import markdown_table
from msvit_mm.ops.region_scores import label_uniformity

from .configs.runs import new_name

META_KEY = '_report'
# how the rank correlations in results were computed (meta 'rank_correlation'); results
# without the key were computed with ordinal ranks (ties broken by position)
ORDINAL = 'ordinal'
# what msvit_mm.analysis.gate_quality computes now (msvit_mm.analysis.stats.spearman; run.py
# writes it into new results)
RANK_CORRELATION = 'tie-averaged'


def load_results(path: str) -> Tuple[Dict[str, dict], dict]:
    """The evaluations (by current run name, in file order) and the report's meta of a JSON."""
    with open(path) as f:
        data = json.load(f)
    meta = data.pop(META_KEY, {})
    return {new_name(k): v for k, v in data.items()}, meta


def save_results(path: str, results: Dict[str, dict], meta: dict) -> None:
    with open(path, 'w') as f:
        json.dump(dict(results, **{META_KEY: meta}), f, indent=1)


def table_row(name: str, result: Dict[str, object]) -> Dict[str, object]:
    """A row for :func:`msvit_mm.analysis.table.markdown_table` / ``plot_miou_vs_gmacs``."""
    s = result['stats']
    if result['learned']:
        name += f" (t={result['calibration']['threshold']:.3f})"
    return dict(run=name, kind='msvit' if result['learned'] else 'baseline', mIoU=s['mIoU'],
                miou_source='evaluated', gmacs=s['gmacs_mean'], tokens=s['tokens_mean'],
                coarse_ratio=s['coarse_ratio_mean'], params_m=s['params_m'],
                num_images=s['num_images'], threshold=None, curve=None)


def rows_of(results: Dict[str, dict]) -> List[Dict[str, object]]:
    return sorted((table_row(n, r) for n, r in results.items()), key=lambda r: r['gmacs'])


def _by_name(rows: Sequence[Dict[str, object]], name: str) -> Optional[Dict[str, object]]:
    return next((r for r in rows if r['run'].split(' ')[0] == name), None)


def target_checks(rows: Sequence[Dict[str, object]], results: Dict[str, dict]) -> List[str]:
    """The benchmark's targets, each as a line saying met or missed with the figures."""
    out = []
    msvit, rand = _by_name(rows, 'target0.5-gbas-weight5'), _by_name(rows, 'random-coarse0.5')
    ent, fine = _by_name(rows, 'entropy-coarse0.5'), _by_name(rows, 'vit-t16-continued')
    coarse = _by_name(rows, 'vit-t32')
    if not (msvit and rand and ent and fine and coarse):
        return ['(not all runs are there)']

    def line(ok: bool, text: str) -> str:
        return f"- [{'met' if ok else 'missed'}] {text}"

    d = msvit['mIoU'] - rand['mIoU']
    out.append(line(d >= 2, f"MSViT t0.5 vs random 0.5: {d:+.2f} mIoU (target >= +2)"))
    d = msvit['mIoU'] - ent['mIoU']
    gm = abs(msvit['gmacs'] / ent['gmacs'] - 1)
    out.append(line(d >= 0 and gm <= 0.03, f'MSViT t0.5 vs entropy 0.5: {d:+.2f} mIoU at '
                    f'{100 * gm:.1f}% GMACs apart (target >= 0 within 3%)'))
    d = msvit['mIoU'] - fine['mIoU']
    out.append(line(d >= -1.5, f'MSViT t0.5 vs ViT/16 continued: {d:+.2f} mIoU (target >= -1.5)'))
    gq = results.get('target0.5-gbas-weight5', {}).get('gate_quality')
    if gq:
        own = next(r for r in gq['rows'] if r['budget'] == 'own')
        d = own['learned'] - own['random']
        out.append(line(d >= 3, f'fixed MSViT t0.5, learned vs random decisions at its own '
                        f'counts: {d:+.2f} mIoU (target >= +3)'))
    for r in rows:
        if r['kind'] != 'msvit':
            continue
        frac = (r['gmacs'] - coarse['gmacs']) / (fine['gmacs'] - coarse['gmacs'])
        chord = coarse['mIoU'] + frac * (fine['mIoU'] - coarse['mIoU'])
        out.append(line(r['mIoU'] > chord, f"{r['run']} vs the ViT/32-ViT/16 line at its "
                        f"GMACs: {r['mIoU'] - chord:+.2f} mIoU (target > 0)"))
    return out


def _spearman_head(text: str, meta: dict) -> str:
    return text if meta.get('rank_correlation', ORDINAL) != ORDINAL else text + ' (ordinal)'


def lever_table(results: Dict[str, dict], meta: dict) -> str:
    """One line per learned-gate run: its mIoU and how well its gate chooses (markdown)."""
    head = ['run', 'mIoU', 'GMACs', 'learned', 'random', 'std rule', 'oracle',
            'learned - random', 'image spread', 'within spread',
            _spearman_head('Spearman with uniformity', meta)]
    rows = []
    for name, res in results.items():
        gq = res.get('gate_quality')
        if not res['learned'] or not gq:
            continue
        own = next(r for r in gq['rows'] if r['budget'] == 'own')
        st = gq['gate_statistics']
        rows.append([name, f"{res['stats']['mIoU']:.2f}", f"{res['stats']['gmacs_mean']:.4f}",
                     f"{own['learned']:.2f}", f"{own['random']:.2f}", f"{own['std']:.2f}",
                     f"{own['oracle']:.2f}", f"{own['learned'] - own['random']:+.2f}",
                     f"{st['image_spread']:.3f}", f"{st['within_spread']:.3f}",
                     f"{st['within_spearman_uniformity']:+.2f}"])
    return _table(head, rows) + '\n'


def signal_table(results: Dict[str, dict], meta: dict) -> str:
    """The straight-through signal of each learned run's fixed model (markdown)."""
    head = ['run', 'forced', 'regions whose gradient says fine',
            _spearman_head('Spearman with pixel std', meta),
            _spearman_head('Spearman with label uniformity', meta)]
    rows = [[name, key.replace('_', ' '), f"{100 * sig['wants_fine']:.0f}%",
             f"{sig['spearman_std']:+.2f}", f"{sig['spearman_uniformity']:+.2f}"]
            for name, res in results.items()
            for key, sig in res.get('straight_through', {}).items()]
    return _table(head, rows) + '\n'


def headroom_line(results: Dict[str, dict]) -> Optional[str]:
    gq = results.get('random-coarse0.5', {}).get('gate_quality')
    if not gq:
        return None
    row = next(r for r in gq['rows'] if r['budget'] == '0.5')
    return (f"headroom on the random-gate model at 0.5 coarse: oracle {row['oracle']:.2f}, "
            f"random {row['random']:.2f} (oracle - random {row['oracle'] - row['random']:+.2f}; "
            f"entropy rule {row['entropy']:.2f}, std rule {row['std']:.2f})")


def render(results: Dict[str, dict], meta: dict, png: Optional[str] = None) -> str:
    """The report (markdown) of the evaluated runs.

    ``meta``: ``command`` (what made it), ``minutes`` (its time), ``data_share`` (the
    label-uniform region share of the validation images, :func:`uniform_region_share`),
    optionally ``note`` (a line under the header) and ``rank_correlation``.
    """
    rows = rows_of(results)
    share = meta['data_share']
    ordinal = meta.get('rank_correlation', ORDINAL) == ORDINAL
    lines = ['# Gate benchmark', '',
             f"Made by `{meta['command']}` ({meta['minutes']:.0f} min for what was not already "
             'trained or evaluated; a finished run and its evaluation are reused). Stage 1: '
             'ViT/16 from scratch, 800 iterations; stage 2: every run from its weights, 300 '
             'iterations each (the runs: `benchmarks/gate/configs/runs.py`). The data: the '
             'benchmark scenes (`benchmarks/gate/synthetic_benchmark.py`).', '']
    if meta.get('note'):
        lines += [meta['note'], '']
    lines += ['## mIoU against GMACs', '', markdown_table(rows), '']
    if png:
        lines += [f'![mIoU vs GMACs]({png})', '']
    lines += ['## Targets', ''] + target_checks(rows, results) + ['']
    lines += ['## Headroom of the data', '',
              f"Label-uniform 32x32 regions per validation image: {100 * share['mean']:.1f}% "
              f"on average (std {100 * share['std']:.1f}, {100 * share['min']:.0f}-"
              f"{100 * share['max']:.0f}%, {share['num_images']} images).", '']
    head = headroom_line(results)
    if head:
        lines += [head, '']
    lines += ['## The learned gates at a glance', '',
              'Each learned run at its calibrated threshold; gate quality on its fixed model at '
              "its own per-image counts (learned, random, std rule, oracle: mIoU); the spread "
              'of the per-image mean probability over images against the mean spread within '
              'an image; the mean within-image rank correlation of the probability with label '
              'uniformity.' + (' Rank correlations marked (ordinal) were computed with ordinal '
                               'ranks (ties broken by position), not tie-averaged ones.'
                               if ordinal else ''),
              '', lever_table(results, meta), '',
              '## What the straight-through gradient tells the gate', '',
              'Each fixed learned model, 64 training images, every region forced coarse, then '
              'fine; the decode loss back-propagated through masked execution to the gate '
              'logits (a positive gradient says: rather fine).', '',
              signal_table(results, meta), '']
    for name, res in results.items():
        gq = res.get('gate_quality')
        if not gq or not res['learned']:
            continue
        lines += [f'## Gate quality: {name}', '',
                  'The same trained model, run with other decisions of the same size per image '
                  '(mIoU):', '', gate_quality_markdown(gq)]
        stats = gq.get('gate_statistics', {})
        lines += [f"- {k}{' (ordinal)' if ordinal and 'spearman' in k else ''}: {v:.3f}"
                  for k, v in stats.items()] + ['']
    return '\n'.join(lines)


def uniform_region_share(data_root: str, split: str = 'validation', region: int = 32,
                         min_uniformity: float = 1.0) -> Dict[str, float]:
    """Share of label-uniform regions per image of a data set in the ADE20K layout.

    Reads ``{data_root}/annotations/{split}/*.png`` (raw ids, 0 = other, ignored), cuts each
    label map into ``region`` x ``region`` regions and counts those whose labelled pixels are
    at least ``min_uniformity`` one class.

    Returns:
        ``mean``, ``std``, ``min``, ``max`` of the per-image share, and ``num_images``.
    """
    shares = []
    for path in sorted(glob.glob(osp.join(data_root, 'annotations', split, '*.png'))):
        raw = torch.from_numpy(cv2.imread(path, cv2.IMREAD_UNCHANGED).astype(np.int64))
        labels = torch.where(raw == 0, 255, raw - 1)  # reduce_zero_label
        uni = label_uniformity(labels[None], region, 150)
        shares.append(float((uni >= min_uniformity).float().mean()))
    if not shares:
        raise FileNotFoundError(f'no label files under {data_root}/annotations/{split}')
    arr = np.asarray(shares)
    return dict(mean=float(arr.mean()), std=float(arr.std()), min=float(arr.min()),
                max=float(arr.max()), num_images=len(shares))
