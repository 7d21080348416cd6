"""The gate benchmark's runs: their configs from the table, training and evaluation.

Stage 1 trains ViT/16 (every region fine); stage 2 starts every run from its weights with
the same iteration budget (the runs: ``configs/runs.py``). Each run's complete config is
written into its work dir (``WORK_ROOT/<run>/<run>.py``, so ``python tools/train.py
WORK_ROOT/<run>/<run>.py`` trains it again), trained in a subprocess (``tools/train.py``)
and evaluated once: mIoU and mean GMACs over the validation images (a learned gate at the
threshold calibrated on the training images to its target share), the learned gates' choice
of regions on their fixed models (``msvit_mm.analysis.gate_quality``) and what the
straight-through gradient tells them (``benchmarks.studies.straight_through``). A finished
run (its last checkpoint exists) and a finished evaluation (its JSON beside the checkpoint)
are skipped.
"""
import copy
import functools
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.config import Config

from msvit_mm.analysis.gate_quality import calibrate, gate_quality, target_coarse_ratio
from msvit_mm.analysis.loading import (build_model, build_train_images, build_val_dataset,
                                       has_learned_gate, load_config)
from msvit_mm.analysis.table import evaluate_and_count, iou_metric

from ..studies.straight_through import straight_through_signal
from .configs.runs import RUNS

CONFIG_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'configs')
STAGE1 = next(name for name, run in RUNS.items() if run['group'] == 'stage1')
HEADROOM_RUN = 'random-coarse0.5'
EVAL_FILE = 'gate_bench_eval.json'


def run_names(groups: Sequence[str] = ('benchmark',)) -> List[str]:
    """Stage 1, then the runs of ``groups`` in table order."""
    return [STAGE1] + [n for n, run in RUNS.items() if run['group'] in groups]


@functools.lru_cache(maxsize=None)
def _base_config(base: str) -> Config:
    """A base config of ``configs/``, read once per process (reading one takes ~0.4 s)."""
    return Config.fromfile(osp.join(CONFIG_DIR, base))


def build_config(name: str, work_root: str) -> Config:
    """The complete config of run ``name``: its base, the table's overrides, the stage-1
    checkpoint of ``work_root`` as ``load_from`` (stage 2) and ``work_dir``.

    The gate and the gate loss are set whole (``model.backbone.gate``, ``model.gate_loss``),
    the entry's ``cfg`` is merged as a child config is.
    """
    if name not in RUNS:
        raise KeyError(f'unknown run {name!r}; known: {sorted(RUNS)}')
    run = RUNS[name]
    cfg = copy.deepcopy(_base_config(run['base']))
    if run['cfg']:
        cfg.merge_from_dict(copy.deepcopy(run['cfg']))
    cfg.model.backbone.gate = copy.deepcopy(run['gate'])
    cfg.model.gate_loss = copy.deepcopy(run['gate_loss'])
    if name != STAGE1:
        cfg.load_from = last_checkpoint(build_config(STAGE1, work_root),
                                        osp.join(work_root, STAGE1))
    cfg.work_dir = osp.join(work_root, name)
    return cfg


def write_config(name: str, work_root: str) -> str:
    """Write the complete config of ``name`` to ``WORK_ROOT/<name>/<name>.py``; its path."""
    path = osp.join(work_root, name, name + '.py')
    os.makedirs(osp.dirname(path), exist_ok=True)
    build_config(name, work_root).dump(path)
    return path


def last_checkpoint(cfg: Config, work_dir: str) -> str:
    """``work_dir/iter_{max_iters}.pth`` of an iteration-based config."""
    return osp.join(work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')


def training_plan(repo: str, name: str, work_root: str,
                  python: str = sys.executable) -> Dict[str, object]:
    """What training ``name`` takes: its written config, command, checkpoint and log file."""
    config = write_config(name, work_root)
    cmd = [python, osp.join(repo, 'tools/train.py'), config]
    return dict(name=name, config=config, cmd=cmd,
                checkpoint=last_checkpoint(Config.fromfile(config), osp.join(work_root, name)),
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


def train_all(repo: str, names: Sequence[str], work_root: str, jobs: int = 1,
              log: Callable[[str], None] = print) -> None:
    """Train stage 1, then the stage-2 ``names``, ``jobs`` at a time (one thread each if > 1).

    The configs are written here, in this thread (mmengine's ``Config.fromfile`` is not
    thread-safe); the worker threads only wait for their training processes.
    """
    from concurrent.futures import ThreadPoolExecutor

    os.makedirs(work_root, exist_ok=True)
    threads = 1 if jobs > 1 else None
    run_plan(training_plan(repo, STAGE1, work_root), repo, log, threads)
    plans = [training_plan(repo, n, work_root) for n in names if n != STAGE1]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for future in [pool.submit(run_plan, plan, repo, log, threads) for plan in plans]:
            future.result()


def evaluate(name: str, work_root: str, num_images: int = 0,
             log: Callable[[str], None] = print) -> Dict[str, object]:
    """mIoU, GMACs and (learned gates; the headroom run) gate quality of one trained run.

    Cached in ``work_dir/gate_bench_eval.json`` (recomputed when the checkpoint is newer).
    """
    work_dir = osp.join(work_root, name)
    config = osp.join(work_dir, name + '.py')
    cfg = load_config(config)
    ckpt = last_checkpoint(cfg, work_dir)
    cache = osp.join(work_dir, EVAL_FILE)
    out: Dict[str, object] = {}
    if osp.isfile(cache) and osp.getmtime(cache) >= osp.getmtime(ckpt):
        with open(cache) as f:
            out = json.load(f)
        if not out.get('learned') or 'straight_through' in out:
            return out
    log(f'evaluating {name}')
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
        if learned or name == HEADROOM_RUN:
            out['gate_quality'] = gate_quality(model, dataset, num_images, ratios=(0.5,))
    if learned:
        out['straight_through'] = straight_through_signal(model, train_set)
    with open(cache, 'w') as f:
        json.dump(out, f, indent=1)
    return out
