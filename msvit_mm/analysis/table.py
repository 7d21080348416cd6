"""Accuracy against compute for trained runs: one row per run (or per gate threshold).

A row holds the run's mIoU (segmentation) or top-1 accuracy (a classification config,
``default_scope='mmpretrain'``: row key ``top1``, logged as ``accuracy/top1``, evaluated
with mmpretrain's ``Accuracy``) and, over real validation images with the real gate decisions,
its mean MACs (fvcore convention, :mod:`msvit_mm.analysis.flops`), tokens per image and
coarse ratio. The mIoU is the run's last logged validation (``scalars.json``) when that was
taken at the checkpoint's iteration; otherwise, and always at a changed gate threshold, it is
evaluated here with mmseg's ``IoUMetric`` over the same images the MACs are counted on.

Example::

    rows = table_rows(['work_dirs/bench/msvit-t_...', 'work_dirs/bench/vit-t16_...'])
    print(markdown_table(rows))
    plot_miou_vs_gmacs(rows, 'miou_vs_gmacs.png')
"""
import glob
import json
import os
import os.path as osp
import re
import sys
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from .flops import count_images, summarize
from .loading import (build_model, build_val_dataset, has_learned_gate, is_classification,
                      load_config, preprocessed)
from .markdown import markdown_table as _table
from .metrics import area_metrics

__all__ = ['COLUMNS', 'evaluate_and_count', 'find_run', 'logged_validation', 'markdown_table',
           'metric_of', 'plot_miou_vs_gmacs', 'run_kind', 'table_rows']

COLUMNS = ('run', 'kind', 'mIoU', 'GMACs', 'tokens/img', 'coarse ratio', 'params M')
# a row's metric key -> the key of the runs' logged validation and the table's header
METRICS = {'mIoU': ('mIoU', 'mIoU'), 'top1': ('accuracy/top1', 'top-1 %')}


def _checkpoint_iter(path: str) -> Optional[int]:
    match = re.fullmatch(r'iter_(\d+)\.pth', osp.basename(path))
    return int(match.group(1)) if match else None


def find_run(work_dir: str) -> Dict[str, object]:
    """The dumped config and the last checkpoint of a ``tools/train.py`` work dir.

    The config is ``WORK_DIR/<name>.py`` (the one named like the folder if there are several,
    else the newest); the checkpoint is the one ``last_checkpoint`` names (looked up in the
    work dir if the recorded path moved), else the highest ``iter_N.pth``.

    Returns:
        ``dict(name, work_dir, config, checkpoint, iteration)`` (iteration None if the file
        is not named ``iter_N.pth``).
    """
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'work dir not found: {work_dir}')
    name = osp.basename(osp.normpath(work_dir))
    configs = sorted(glob.glob(osp.join(work_dir, '*.py')), key=osp.getmtime)
    if not configs:
        raise FileNotFoundError(f'no dumped config (*.py) in {work_dir}: is it a tools/train.py '
                                'work dir?')
    named = [c for c in configs if osp.splitext(osp.basename(c))[0] == name]
    config = (named or configs)[-1]
    checkpoint = None
    last = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            recorded = f.read().strip()
        for candidate in (recorded, osp.join(work_dir, osp.basename(recorded))):
            if recorded and osp.isfile(candidate):
                checkpoint = candidate
                break
    if checkpoint is None:
        iters = [p for p in glob.glob(osp.join(work_dir, 'iter_*.pth')) if _checkpoint_iter(p)]
        if not iters:
            raise FileNotFoundError(f'no checkpoint (last_checkpoint or iter_N.pth) in {work_dir}')
        checkpoint = max(iters, key=_checkpoint_iter)
    return dict(name=name, work_dir=work_dir, config=config, checkpoint=checkpoint,
                iteration=_checkpoint_iter(checkpoint))


def logged_validation(work_dir: str, key: str = 'mIoU') -> Optional[Dict[str, float]]:
    """The last validation line (``mIoU``, ``aAcc``, ``mAcc``, ``step``; ``accuracy/top1``
    for a classifier) of the run's logs.

    Reads ``WORK_DIR/<timestamp>/vis_data/scalars.json`` (one JSON object per line) of every
    session, oldest first; None if no line holds ``key``.
    """
    found = None
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                entry = json.loads(line)
                if key in entry:
                    found = entry
    return found


def run_kind(model: nn.Module) -> str:
    """'msvit' for a learned gate; 'baseline' for any other gate or a plain ViT."""
    return 'msvit' if has_learned_gate(model) else 'baseline'


def iou_metric(cfg: Config):
    from mmseg.evaluation import IoUMetric

    evaluator = cfg.get('val_evaluator', None)
    kind = evaluator.get('type') if isinstance(evaluator, dict) else None
    if kind is IoUMetric or (isinstance(kind, str) and kind.split('.')[-1] == 'IoUMetric'):
        kwargs = {k: v for k, v in evaluator.items() if k != 'type'}
        return IoUMetric(**dict(dict(prefix='table'), **kwargs))
    return IoUMetric(iou_metrics=['mIoU'], prefix='table')


def accuracy_metric(cfg: Config):
    """mmpretrain's top-1 ``Accuracy`` for a classification run's table row."""
    from mmpretrain.evaluation import Accuracy
    return Accuracy(topk=(1,), prefix='table')


def metric_summary(metric, results: list) -> Dict[str, float]:
    """The metric's figures (percent, 2 decimals): :func:`iou_summary` for an
    ``IoUMetric``, ``{'top1': ...}`` for mmpretrain's ``Accuracy``."""
    if hasattr(metric, 'nan_to_num'):  # mmseg's IoUMetric
        return iou_summary(metric, results)
    return {k: float(np.round(float(v), 2)) for k, v in metric.compute_metrics(results).items()}


def iou_summary(metric, results: list) -> Dict[str, float]:
    """``aAcc``, ``mIoU``, ``mAcc`` (percent, 2 decimals) of an ``IoUMetric``'s processed
    results, as its ``compute_metrics`` gives them, without its per-class table in the log."""
    areas = [sum(parts) for parts in zip(*results)]
    return {k: float(np.round(v, 2)) for k, v in area_metrics(areas, metric.nan_to_num).items()}


def evaluate_and_count(model: nn.Module, dataset, num_images: int, metric=None,
                       progress: bool = False) -> Dict[str, object]:
    """MACs statistics (and the metric, if given) over the first ``num_images`` images.

    Each image is preprocessed as inference sees it, counted with
    :func:`~msvit_mm.analysis.flops.count_images` (the model's test mode: whole or slide)
    and, with ``metric`` (an mmseg ``IoUMetric`` or mmpretrain ``Accuracy``), predicted
    with ``model.predict``.

    Returns:
        :func:`~msvit_mm.analysis.flops.summarize`'s dict, plus ``aAcc``/``mIoU``/``mAcc``
        (or ``top1``) with a metric.
    """
    n = min(num_images, len(dataset))
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(n, file=sys.stderr)
    records = []
    if metric is not None:
        metric.dataset_meta = dataset.metainfo
    for batch in preprocessed(model, dataset, n):
        records.extend(count_images(model, [batch['inputs']], getattr(model, 'test_cfg', None)))
        if metric is not None:
            with torch.no_grad():
                preds = model.predict(batch['inputs'], batch['data_samples'])
            metric.process({}, [p.to_dict() for p in preds])
        if bar is not None:
            bar.update()
    if bar is not None:
        sys.stderr.write('\n')
    out = summarize(records)
    if metric is not None:
        out.update(metric_summary(metric, metric.results))
    return out


def _row(run: dict, kind: str, stats: dict, score: float, source: str,
         threshold: Optional[float], metric: str = 'mIoU') -> Dict[str, object]:
    return dict(
        run=run['name'] if threshold is None else f"{run['name']} (t={threshold:g})",
        kind=kind, **{metric: score}, metric=metric, miou_source=source,
        gmacs=stats['gmacs_mean'],
        tokens=stats['tokens_mean'], coarse_ratio=stats['coarse_ratio_mean'],
        params_m=stats['params_m'], num_images=stats['num_images'], threshold=threshold,
        curve=run['name'] if threshold is not None else None, work_dir=run['work_dir'],
        config=run['config'], checkpoint=run['checkpoint'])


def _run_rows(work_dir: str, num_images: Optional[int], thresholds: Sequence[float],
              cfg_options: Optional[dict], progress: bool) -> Iterator[Dict[str, object]]:
    run = find_run(work_dir)
    cfg = load_config(run['config'], cfg_options)
    model = build_model(cfg, run['checkpoint'])
    kind = run_kind(model)
    metric = 'top1' if is_classification(cfg) else 'mIoU'
    evaluator = accuracy_metric if metric == 'top1' else iou_metric
    dataset = build_val_dataset(cfg, hint='Point at the data with --cfg-options '
                                '"val_dataloader.dataset.data_root=..."')
    n = len(dataset) if num_images is None or num_images <= 0 else num_images
    if progress:
        sys.stderr.write(f"{run['name']}: {run['checkpoint']}\n")
    if kind == 'msvit' and thresholds:
        for t in thresholds:
            model.backbone.tokenizer.gate_threshold = float(t)
            stats = evaluate_and_count(model, dataset, n, evaluator(cfg), progress)
            yield _row(run, kind, stats, stats[metric], 'evaluated', float(t), metric)
        return
    logged = logged_validation(work_dir, METRICS[metric][0])
    use_log = logged is not None and run['iteration'] in (None, logged.get('step'))
    stats = evaluate_and_count(model, dataset, n, None if use_log else evaluator(cfg), progress)
    if use_log:
        yield _row(run, kind, stats, float(logged[METRICS[metric][0]]),
                   f"logged (step {logged['step']})", None, metric)
    else:
        yield _row(run, kind, stats, stats[metric], 'evaluated', None, metric)


def table_rows(work_dirs: Sequence[str], num_images: Optional[int] = None,
               thresholds: Sequence[float] = (), cfg_options: Optional[dict] = None,
               progress: bool = False) -> List[Dict[str, object]]:
    """Rows for the work dirs, sorted by mean GMACs.

    Args:
        work_dirs: ``tools/train.py`` work dirs (dumped config + checkpoints).
        num_images: validation images to count (and evaluate) on; None or <= 0: all.
        thresholds: gate thresholds at which each learned-gate run is evaluated, one row
            each (a curve from one model); forced-gate runs and plain ViTs give one row.
        cfg_options: overrides merged into every run's config.
        progress: show an mmengine progress bar per measurement on stderr.

    Returns:
        dicts with ``run``, ``kind``, ``mIoU`` (a classifier: ``top1``), ``metric`` (that
        key), ``miou_source`` (where the metric comes from), ``gmacs``, ``tokens``,
        ``coarse_ratio``, ``params_m``, ``num_images``, ``threshold``, ``curve`` (the run a
        threshold row belongs to), ``work_dir``, ``config``, ``checkpoint``.
    """
    rows = [row for wd in work_dirs
            for row in _run_rows(wd, num_images, thresholds, cfg_options, progress)]
    metric_of(rows)  # one metric: segmentation and classification runs do not mix
    return sorted(rows, key=lambda r: (r['gmacs'], r['run']))


def metric_of(rows: Sequence[Dict[str, object]]) -> str:
    """The rows' metric key ('mIoU' or 'top1'; rows without ``metric``: 'mIoU'); raises
    ValueError naming the runs when they mix metrics."""
    names = {r.get('metric', 'mIoU') for r in rows}
    if len(names) > 1:
        raise ValueError('the runs mix segmentation (mIoU) and classification (top-1) work '
                         f'dirs: {[(r["run"], r.get("metric", "mIoU")) for r in rows]}; '
                         'make one table of each')
    return names.pop() if names else 'mIoU'



def markdown_table(rows: Sequence[Dict[str, object]]) -> str:
    """The rows as a Markdown table (:data:`COLUMNS`, the metric's header for a classifier's
    top-1), with a note on where the metric comes from."""
    metric = metric_of(rows)
    header, name = METRICS[metric][1], 'mIoU' if metric == 'mIoU' else 'top-1'
    columns = COLUMNS[:2] + (header,) + COLUMNS[3:]
    table = _table(columns, ([r['run'], r['kind'], f"{r[metric]:.2f}", f"{r['gmacs']:.3f}",
                              f"{r['tokens']:.1f}", f"{r['coarse_ratio']:.3f}",
                              f"{r['params_m']:.2f}"] for r in rows),
                   right=[False, False] + [True] * (len(columns) - 2))
    evaluated = [r for r in rows if r['miou_source'] == 'evaluated']
    notes = [f"GMACs, tokens/img, coarse ratio: mean over {rows[0]['num_images']} validation "
             'images with the real gate decisions (fvcore MACs: backbone + neck + '
             f"{'decode' if metric == 'mIoU' else 'classification'} head)."] if rows else []
    if evaluated and len(evaluated) == len(rows):
        notes.append(f'{name}: evaluated here on the same images.')
    elif evaluated:
        notes.append(f'{name} evaluated here on the same images for: '
                     + ', '.join(r['run'] for r in evaluated)
                     + '; the others: the run\'s own validation at its last checkpoint.')
    elif rows:
        notes.append(f'{name}: each run\'s own validation at its last checkpoint.')
    return '\n'.join([table, ''] + notes)


def shared_suffix(names: Sequence[str]) -> str:
    """The suffix all run names share from an ``_`` on (e.g. ``_upernet_...``), or ''.

    A threshold tag `` (t=0.5)`` is not part of a name here.
    """
    names = [re.sub(r' \(t=[^)]*\)$', '', n) for n in names]
    if len(set(names)) < 2:
        return ''
    suffix = os.path.commonprefix([n[::-1] for n in names])[::-1]
    cut = suffix.find('_')
    return suffix[cut:] if cut >= 0 else ''


def plot_miou_vs_gmacs(rows: Sequence[Dict[str, object]], path: str,
                       title: Optional[str] = None) -> None:
    """Write a PNG of mIoU (a classifier's rows: top-1 accuracy) against mean GMACs
    (matplotlib's Agg canvas, no display); ``title`` None: '<metric> vs GMACs'.

    Baselines: grey squares; MSViT runs: coloured circles; the threshold rows of one run are
    joined by a line (its accuracy/compute curve). Every point is labelled.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    metric = metric_of(rows)
    label_y = 'mIoU (%)' if metric == 'mIoU' else 'top-1 accuracy (%)'
    suffix = shared_suffix([r['run'] for r in rows])

    def short(name: str) -> str:
        return name.replace(suffix, '') if suffix else name

    base = [r for r in rows if r['kind'] == 'baseline']
    if base:
        ax.scatter([r['gmacs'] for r in base], [r[metric] for r in base], marker='s', s=50,
                   color='tab:gray', label='baselines', zorder=3)
    groups: Dict[str, list] = {}
    for r in rows:
        if r['kind'] == 'msvit':
            groups.setdefault(r['curve'] or r['run'], []).append(r)
    colors = ['tab:red', 'tab:blue', 'tab:green', 'tab:orange', 'tab:purple', 'tab:brown']
    for i, (name, group) in enumerate(groups.items()):
        group = sorted(group, key=lambda r: r['gmacs'])
        style = '-o' if len(group) > 1 else 'o'
        ax.plot([r['gmacs'] for r in group], [r[metric] for r in group], style,
                color=colors[i % len(colors)], label=f'MSViT {short(name)}', zorder=4)
    labels: Dict[tuple, List[str]] = {}  # points that coincide share one label
    for r in rows:
        label = f"t={r['threshold']:g}" if r['threshold'] is not None else short(r['run'])
        labels.setdefault((r['gmacs'], r[metric]), []).append(label)
    for xy, names in labels.items():
        ax.annotate(', '.join(names), xy, textcoords='offset points', xytext=(4, 4), fontsize=7)
    ax.margins(x=0.08, y=0.08)  # room for the labels
    ax.set_xlabel('GMACs per image (mean over validation images)')
    ax.set_ylabel(label_y)
    ax.set_title(title or f"{label_y.split(' (')[0]} vs GMACs")
    ax.grid(True, alpha=0.3)
    if rows:
        ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    fig.savefig(path)
