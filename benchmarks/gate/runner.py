"""The gate benchmark: MSViT's recipe on generated scenes, against chance and a pixel rule.

Stage 1 trains ViT/16 (every region fine); stage 2 starts every run from its weights with
the same iteration budget: MSViT (learned gate, targets 0.25 / 0.5 / 0.75), a random gate
and the entropy rule at the same shares, ViT/32 (every region coarse) and ViT/16 trained on.
Each run is then evaluated once (mIoU and mean GMACs over the validation images; a learned
gate at the threshold calibrated on the training images to its target share), the learned
gates' choice of regions is judged on their fixed models (:mod:`.gate_quality`), and the
headroom of the data is measured on the random-gate model (label oracle against random
decisions). Training runs in subprocesses (``tools/train.py``); a finished run (its last
checkpoint exists) and a finished evaluation (its JSON next to the checkpoint) are skipped.
"""
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Callable, Dict, List, Optional, Sequence

import torch

from .gate_quality import calibrate, gate_quality, straight_through_signal
from .loading import (build_model, build_train_images, build_val_dataset, has_learned_gate,
                      load_config)
from .table import evaluate_and_count, iou_metric

CONFIG_DIR = 'configs/gate_benchmark'
STAGE1 = 'vit-t16_upernet_1xb8-800_synthetic-bench-128x128'
STAGE2 = ['msvit-t-t0.5', 'random-0.5', 'entropy-0.5', 'vit-t16-cont', 'vit-t32',
          'msvit-t-t0.25', 'random-0.25', 'entropy-0.25',
          'msvit-t-t0.75', 'random-0.75', 'entropy-0.75']
# levers: variants of msvit-t-t0.5, each with one change (run with --runs NAME)
LEVERS = ['msvit-t-t0.5-within', 'msvit-t-t0.5-packed', 'msvit-t-t0.5-label',
          'msvit-t-t0.5-rate', 'msvit-t-t0.5-conly', 'msvit-t-t0.5-within-conly',
          'msvit-t-t0.5-packedcf', 'msvit-t-t0.5-twophase',
          'msvit-t-t0.5-seed1', 'msvit-t-t0.5-packed-seed1', 'msvit-t-t0.5-twophase-seed1',
          'msvit-t-t0.5-w1', 'msvit-t-t0.5-lr100', 'msvit-t-t0.5-t05', 'msvit-t-t0.5-gateonly',
          'msvit-t-t0.5-w1-packed', 'msvit-t-t0.5-w1-seed1', 'msvit-t-t0.5-w1-packed-seed1',
          'msvit-t-t0.5-w1-twophase']
STAGE2_SUFFIX = '_upernet_1xb8-s2-300_synthetic-bench-128x128'
HEADROOM_RUN = 'random-0.5'
EVAL_FILE = 'gate_bench_eval.json'


def run_names(levers: bool = False) -> List[str]:
    """Config names (no ``.py``) in training order: stage 1, stage 2 (then the levers)."""
    return [STAGE1] + [n + STAGE2_SUFFIX for n in STAGE2 + (LEVERS if levers else [])]


def last_checkpoint(config_path: str, work_dir: str) -> str:
    """``work_dir/iter_{max_iters}.pth`` of an iteration-based config."""
    cfg = load_config(config_path)
    return osp.join(work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')


def train_all(repo: str, names: Sequence[str], work_root: str, jobs: int = 1,
              log: Callable[[str], None] = print) -> None:
    """Train stage 1, then the stage-2 ``names``, ``jobs`` at a time (one thread each if > 1).

    The configs are read here, in this thread (mmengine's ``Config.fromfile`` is not
    thread-safe); the worker threads only wait for their training processes.
    """
    from concurrent.futures import ThreadPoolExecutor

    os.makedirs(work_root, exist_ok=True)
    threads = 1 if jobs > 1 else None
    train(repo, STAGE1, work_root, log=log, threads=threads)
    plans = [training_plan(repo, n, work_root) for n in names if n != STAGE1]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run_plan, plan, repo, log, threads) for plan in plans]
        for future in futures:
            future.result()


def training_plan(repo: str, name: str, work_root: str,
                  python: str = sys.executable) -> Dict[str, object]:
    """What training ``name`` takes: its command, checkpoint and log file."""
    config = osp.join(repo, CONFIG_DIR, name + '.py')
    work_dir = osp.join(work_root, name)
    cmd = [python, osp.join(repo, 'tools/train.py'), config, '--work-dir', work_dir]
    if name != STAGE1:
        stage1 = last_checkpoint(osp.join(repo, CONFIG_DIR, STAGE1 + '.py'),
                                 osp.join(work_root, STAGE1))
        cmd += ['--cfg-options', f'load_from={stage1}']
    return dict(name=name, cmd=cmd, checkpoint=last_checkpoint(config, work_dir),
                log=osp.join(work_root, name + '.log'))


def run_plan(plan: Dict[str, object], repo: str, log: Callable[[str], None] = print,
             threads: Optional[int] = None) -> str:
    """Run a :func:`training_plan` unless its checkpoint exists; returns the checkpoint.

    ``threads`` sets ``OMP_NUM_THREADS`` of the training process (several runs side by side
    on a small machine run faster with one thread each than in turn with two).
    """
    name, ckpt = plan['name'], plan['checkpoint']
    if osp.isfile(ckpt):
        log(f'done: {name}')
        return ckpt
    log(f"training {name}: {' '.join(plan['cmd'])}")
    env = dict(os.environ, **({'OMP_NUM_THREADS': str(threads)} if threads else {}))
    with open(plan['log'], 'w') as out:
        proc = subprocess.run(plan['cmd'], cwd=repo, stdout=out, stderr=subprocess.STDOUT,
                              env=env)
    if proc.returncode != 0 or not osp.isfile(ckpt):
        raise RuntimeError(f"{name}: training failed or left no {ckpt}, see {plan['log']}")
    log(f'trained {name}')
    return ckpt


def train(repo: str, name: str, work_root: str, log: Callable[[str], None] = print,
          threads: Optional[int] = None) -> str:
    """Train one run unless its last checkpoint exists; returns the checkpoint path."""
    os.makedirs(work_root, exist_ok=True)
    return run_plan(training_plan(repo, name, work_root), repo, log, threads)


def target_coarse_ratio(cfg) -> Optional[float]:
    """The first ``target_coarse_ratio`` among the config's gate losses (None if none)."""
    losses = cfg.model.get('gate_loss') or []
    losses = losses if isinstance(losses, (list, tuple)) else [losses]
    targets = [lo['target_coarse_ratio'] for lo in losses if 'target_coarse_ratio' in lo]
    return float(targets[0]) if targets else None


def evaluate(repo: str, name: str, work_root: str, num_images: int = 0,
             log: Callable[[str], None] = print) -> Dict[str, object]:
    """mIoU, GMACs and (learned gates; the headroom run) gate quality of one trained run.

    Cached in ``work_dir/gate_bench_eval.json`` (recomputed when the checkpoint is newer).
    """
    config = osp.join(repo, CONFIG_DIR, name + '.py')
    work_dir = osp.join(work_root, name)
    ckpt = last_checkpoint(config, work_dir)
    cache = osp.join(work_dir, EVAL_FILE)
    out: Dict[str, object] = {}
    if osp.isfile(cache) and osp.getmtime(cache) >= osp.getmtime(ckpt):
        with open(cache) as f:
            out = json.load(f)
        if not out.get('learned') or 'straight_through' in out:
            return out
    log(f'evaluating {name}')
    cfg = load_config(config)
    model = build_model(cfg, ckpt)
    learned = has_learned_gate(model)
    if learned:
        train_set = build_train_images(cfg)
    if 'stats' not in out:
        out.update(run=name, checkpoint=ckpt, learned=learned)
        if learned:
            target = target_coarse_ratio(cfg)
            out.update(target=target, calibration=calibrate(model, train_set, target))
            model.backbone.tokenizer.gate_threshold = out['calibration']['threshold']
        dataset = build_val_dataset(cfg)
        torch.manual_seed(0)  # the random gate draws from the global generator
        out['stats'] = evaluate_and_count(model, dataset, num_images or len(dataset),
                                          iou_metric(cfg))
        if learned or name.startswith(HEADROOM_RUN + '_'):
            out['gate_quality'] = gate_quality(model, dataset, num_images, ratios=(0.5,))
    if learned:
        out['straight_through'] = straight_through_signal(model, train_set)
    with open(cache, 'w') as f:
        json.dump(out, f, indent=1)
    return out


def table_row(result: Dict[str, object]) -> Dict[str, object]:
    """A row for :func:`msvit_mm.analysis.table.markdown_table` / ``plot_miou_vs_gmacs``."""
    s = result['stats']
    name = result['run'].replace(STAGE2_SUFFIX, '')
    if result['learned']:
        name += f" (t={result['calibration']['threshold']:.3f})"
    return dict(run=name, kind='msvit' if result['learned'] else 'baseline', mIoU=s['mIoU'],
                miou_source='evaluated', gmacs=s['gmacs_mean'], tokens=s['tokens_mean'],
                coarse_ratio=s['coarse_ratio_mean'], params_m=s['params_m'],
                num_images=s['num_images'], threshold=None, curve=None)


def _by_prefix(rows: Sequence[Dict[str, object]], prefix: str) -> Optional[Dict[str, object]]:
    return next((r for r in rows if r['run'].split(' ')[0] == prefix), None)


def target_checks(rows: Sequence[Dict[str, object]], results: Dict[str, dict]
                  ) -> List[str]:
    """The issue's targets, each as a line saying met or missed with the figures."""
    out = []
    msvit, rand = _by_prefix(rows, 'msvit-t-t0.5'), _by_prefix(rows, 'random-0.5')
    ent, fine = _by_prefix(rows, 'entropy-0.5'), _by_prefix(rows, 'vit-t16-cont')
    coarse = _by_prefix(rows, 'vit-t32')
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
    gq = results.get('msvit-t-t0.5' + STAGE2_SUFFIX, {}).get('gate_quality')
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


def lever_table(results: Dict[str, dict]) -> str:
    """One line per learned-gate run: its mIoU and how well its gate chooses (markdown)."""
    head = ['run', 'mIoU', 'GMACs', 'learned', 'random', 'std rule', 'oracle',
            'learned - random', 'image spread', 'within spread', 'Spearman with uniformity']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + ' --- |' * len(head)]
    for name, res in results.items():
        gq = res.get('gate_quality')
        if not res['learned'] or not gq:
            continue
        own = next(r for r in gq['rows'] if r['budget'] == 'own')
        st = gq['gate_statistics']
        cells = [name.replace(STAGE2_SUFFIX, ''), f"{res['stats']['mIoU']:.2f}",
                 f"{res['stats']['gmacs_mean']:.4f}", f"{own['learned']:.2f}",
                 f"{own['random']:.2f}", f"{own['std']:.2f}", f"{own['oracle']:.2f}",
                 f"{own['learned'] - own['random']:+.2f}", f"{st['image_spread']:.3f}",
                 f"{st['within_spread']:.3f}", f"{st['within_spearman_uniformity']:+.2f}"]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def signal_table(results: Dict[str, dict]) -> str:
    """The straight-through signal of each learned run's fixed model (markdown)."""
    head = ['run', 'forced', 'regions whose gradient says fine', 'Spearman with pixel std',
            'Spearman with label uniformity']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + ' --- |' * len(head)]
    for name, res in results.items():
        for key, sig in res.get('straight_through', {}).items():
            lines.append(f"| {name.replace(STAGE2_SUFFIX, '')} | {key.replace('_', ' ')} | "
                         f"{100 * sig['wants_fine']:.0f}% | {sig['spearman_std']:+.2f} | "
                         f"{sig['spearman_uniformity']:+.2f} |")
    return '\n'.join(lines) + '\n'


def headroom_line(results: Dict[str, dict]) -> Optional[str]:
    gq = results.get(HEADROOM_RUN + STAGE2_SUFFIX, {}).get('gate_quality')
    if not gq:
        return None
    row = next(r for r in gq['rows'] if r['budget'] == '0.5')
    return (f"headroom on the random-gate model at 0.5 coarse: oracle {row['oracle']:.2f}, "
            f"random {row['random']:.2f} (oracle - random {row['oracle'] - row['random']:+.2f}; "
            f"entropy rule {row['entropy']:.2f}, std rule {row['std']:.2f})")


def uniform_region_share(data_root: str, split: str = 'validation', region: int = 32,
                         min_uniformity: float = 1.0) -> Dict[str, float]:
    """Share of label-uniform regions per image of a data set in the ADE20K layout.

    Reads ``{data_root}/annotations/{split}/*.png`` (raw ids, 0 = other, ignored), cuts each
    label map into ``region`` x ``region`` regions and counts those whose labelled pixels are
    at least ``min_uniformity`` one class.

    Returns:
        ``mean``, ``std``, ``min``, ``max`` of the per-image share, and ``num_images``.
    """
    import glob

    import cv2
    import numpy as np

    from ..ops.region_scores import label_uniformity

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


def ensure_dirs(path: str) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
