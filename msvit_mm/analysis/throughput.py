"""Inference speed of segmentors on batches of real images, measured against each other.

A measurement is one pass of ``model.predict`` (what ``test_step`` runs after the data
preprocessor: whole or sliding-window inference, the resize back to the image's shape and
the argmax) over every batch, under ``torch.no_grad`` in eval mode. Several models are timed
in the same run, alternating pass by pass (ABBA order, so a slow drift of the machine weighs
on each alike: :func:`time_variants`), after warm-up passes; a ratio of the medians is what a
noisy machine can tell (docs/design.md, "Counting FLOPs and time"). On CUDA a pass ends with a
synchronization before the clock is read.

Example::

    batches = image_batches(model, dataset, num_images=32, batch_size=8)
    results = compare({'msvit': (model, batches), 'vit': (vit, vit_batches)}, repeat=5)
    results['msvit']['images_per_s'] / results['vit']['images_per_s']
"""
import statistics
import time
from typing import Callable, Dict, List, Sequence, Tuple

import torch
from torch import nn

from .loading import preprocessed

__all__ = ['compare', 'image_batches', 'predict_batch', 'run_pass', 'time_variants',
           'token_stats']


def time_variants(fns: Dict[str, Callable[[], object]], repeats: int = 5, warmup: int = 1,
                  clock: Callable[[], float] = time.perf_counter) -> Dict[str, float]:
    """Median seconds of each variant over ``repeats`` rounds (after ``warmup`` rounds).

    Every round runs every variant once; the order alternates between rounds (as given,
    then reversed), so drifts of a noisy machine hit all variants alike. ``clock``: seconds,
    read before and after each call.
    """
    names = list(fns)
    times: Dict[str, list] = {n: [] for n in names}
    for r in range(warmup + repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            start = clock()
            fns[name]()
            if r >= warmup:
                times[name].append(clock() - start)
    return {n: statistics.median(t) for n, t in times.items()}


def image_batches(model: nn.Module, dataset, num_images: int, batch_size: int) -> List[dict]:
    """The first ``num_images`` samples as batches of one image size each, preprocessed.

    :func:`~msvit_mm.analysis.loading.preprocessed`'s batches: images of one size after the
    test pipeline each (mmseg's preprocessor stacks a test batch only when sizes agree), a
    size's last batch possibly smaller.

    Returns:
        ``dict(inputs=[B, 3, H, W] normalized on the model's device, data_samples=[B])`` each.
    """
    batches = list(preprocessed(model, dataset, num_images, batch_size))
    if not batches:
        raise ValueError('no images to time (empty dataset or num_images < 1)')
    return batches


def predict_batch(model: nn.Module, batch: dict) -> list:
    """One inference of ``batch`` as mmseg's ``test_step`` runs it after preprocessing."""
    with torch.no_grad():
        return model.predict(batch['inputs'], batch['data_samples'])


def run_pass(model: nn.Module, batches: Sequence[dict]) -> None:
    """Inference of every batch, then (on CUDA) a synchronization, so the pass is timed whole."""
    for batch in batches:
        predict_batch(model, batch)
    if batches and batches[-1]['inputs'].is_cuda:
        torch.cuda.synchronize(batches[-1]['inputs'].device)


def compare(runs: Dict[str, Tuple[nn.Module, Sequence[dict]]], repeat: int = 5,
            warmup: int = 1) -> Dict[str, Dict[str, float]]:
    """Time each model on its batches, passes alternating between the models.

    The rounds are :func:`time_variants`' (one pass of every model
    per round, order reversed every other round, median over rounds).

    Args:
        runs: name -> (model, batches from :func:`image_batches`); put in eval mode here.
        repeat: timed passes per model (each over all its batches).
        warmup: untimed passes per model first.

    Returns:
        name -> ``dict(images, batches, pass_s`` (median seconds of a pass),
        ``images_per_s`` (images of a pass / ``pass_s``), ``latency_ms`` (``pass_s`` per
        batch) and ``ms_per_image``).
    """
    if repeat < 1:
        raise ValueError(f'repeat={repeat} must be >= 1')
    for model, _ in runs.values():
        model.eval()
    passes = time_variants(
        {name: (lambda m=model, b=batches: run_pass(m, b))
         for name, (model, batches) in runs.items()}, repeats=repeat, warmup=warmup)
    out = {}
    for name, seconds in passes.items():
        batches = runs[name][1]
        images = sum(len(b['data_samples']) for b in batches)
        out[name] = dict(images=images, batches=len(batches), pass_s=seconds,
                         images_per_s=images / seconds, latency_ms=1e3 * seconds / len(batches),
                         ms_per_image=1e3 * seconds / images)
    return out


def token_stats(model: nn.Module, batches: Sequence[dict]) -> Dict[str, float]:
    """Mean tokens per image and coarse ratio of an MSViT backbone on ``batches`` ({} else).

    The backbone runs on each whole batch, not on a 'slide' test's crops.
    """
    backbone = getattr(model, 'backbone', None)
    if not hasattr(backbone, 'forward_with_aux'):
        return {}
    tokens, coarse = [], []
    with torch.no_grad():
        for batch in batches:
            _, aux = backbone.forward_with_aux(batch['inputs'])
            tokens.extend(aux['tokens_per_image'].float().tolist())
            coarse.extend(aux['coarse_ratio'].float().tolist())
    return dict(tokens_mean=sum(tokens) / len(tokens), coarse_ratio_mean=sum(coarse) / len(coarse))
