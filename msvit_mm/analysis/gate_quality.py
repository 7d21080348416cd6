"""Is the gate choosing well? The same trained model, run with other decisions of equal size.

For every validation image the model runs with the coarse regions chosen by several
*sources*, each given the same number of coarse regions per image (a *budget*):

- ``learned``: the model's own gate (at its own budget: its own decisions; at a fixed ratio:
  the regions with the highest gate probability);
- ``random``: uniformly random regions (several seeds);
- ``std`` / ``entropy``: the lowest pixel standard deviation / grey-level entropy (the
  training-free rules; entropy is APT's criterion);
- ``oracle``: the most label-uniform regions (CTS's criterion; it reads the ground truth).

Budgets: ``own`` (the learned gate's count per image; learned gates only) and fixed ratios
(e.g. 0.25 / 0.5 / 0.75 of the regions). MACs depend only on the counts, so the sources of
one budget cost the same; the mIoU differences are what the choice of regions is worth.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.patchify import pad_to_multiple
from ..ops.region_scores import (calibrate_threshold, label_uniformity, rate_counts,
                                 region_entropy, region_std, topk_regions)
from .loading import has_learned_gate, preprocessed
from .markdown import markdown_table
from .metrics import area_metrics, sample_areas
from .stats import spearman

__all__ = ['RULES', 'calibrate', 'gate_quality', 'gate_statistics', 'labels_on_inputs',
           'markdown', 'predict_with_mask', 'source_scores', 'summary_line',
           'target_coarse_ratio']

RULES = ('std', 'entropy')


def predict_with_mask(model: nn.Module, inputs: Tensor, data_samples: list,
                      coarse_mask: Optional[Tensor]) -> list:
    """``model.predict`` (whole-image inference) with the gate's decisions replaced.

    Args:
        model: an ``MSViTEncoderDecoder`` (or any EncoderDecoder with an MSViT backbone)
            whose ``test_cfg.mode`` is 'whole'.
        inputs: [B, 3, H, W] preprocessed images.
        data_samples: their ``SegDataSample`` list.
        coarse_mask: [B, Hc, Wc] bool decisions, or None for the gate's own.

    Returns:
        the data samples with ``pred_sem_seg``, as ``model.predict`` returns them.
    """
    mode = (model.test_cfg or {}).get('mode', 'whole')
    if mode != 'whole':
        raise ValueError(f"gate quality needs whole-image inference, the config's test_cfg "
                         f"mode is {mode!r}: set --cfg-options model.test_cfg.mode=whole")
    metas = [s.metainfo for s in data_samples]
    with torch.no_grad():
        feats, _ = model.backbone.forward_with_aux(inputs, coarse_mask)
        x = model.neck(feats) if model.with_neck else feats
        seg_logits = model.decode_head.predict(x, metas, model.test_cfg)
        return model.postprocess_result(seg_logits, data_samples)


def labels_on_inputs(data_samples: list, hw: Tuple[int, int]) -> Tensor:
    """[B, H, W] long ground truth on the input grid (nearest resize if the sizes differ)."""
    labels = torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).long()
    if tuple(labels.shape[-2:]) != tuple(hw):
        labels = F.interpolate(labels[:, None].float(), size=tuple(hw), mode='nearest')[:, 0]
    return labels.long()


def source_scores(inputs: Tensor, labels: Optional[Tensor], gate_probs: Optional[Tensor],
                  region_size: int, num_classes: int, seeds: Sequence[int], image_index: int,
                  ignore_index: int = 255) -> Dict[str, Tensor]:
    """Every source's [B, Hc, Wc] scores (higher = chosen first for coarse).

    Random scores come from a generator seeded by ``(seed, image_index)``, so a run repeats.
    No ``labels`` (classification): no ``oracle``.
    """
    padded = pad_to_multiple(inputs, region_size)
    scores = {'std': -region_std(padded, region_size),
              'entropy': -region_entropy(padded, region_size)}
    if labels is not None:
        scores['oracle'] = label_uniformity(labels, region_size, num_classes, ignore_index)
    if gate_probs is not None:
        scores['learned'] = gate_probs
    grid = padded.shape[-2] // region_size, padded.shape[-1] // region_size
    for seed in seeds:
        gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(image_index))
        scores[f'random{seed}'] = torch.rand((inputs.shape[0],) + grid, generator=gen)
    return scores




def gate_statistics(probs: Sequence[Tensor], uniformity: Sequence[Tensor],
                    stds: Sequence[Tensor]) -> Dict[str, float]:
    """How the learned gate's probabilities are organized, from per-image [Hc, Wc] maps.

    Returns:
        ``image_spread``: std over images of the per-image mean probability;
        ``within_spread``: mean over images of the std within an image;
        ``within_spearman_uniformity`` / ``within_spearman_low_std``: mean over images of
        the rank correlation, within the image, of the probability with label uniformity /
        with low pixel std (the rule's choice), for reference
        ``within_spearman_low_std_vs_uniformity`` (how well the std rule ranks).
    """
    means = torch.stack([p.double().mean() for p in probs])
    return dict(
        image_spread=float(means.std(unbiased=False)),
        within_spread=float(np.mean([float(p.double().std(unbiased=False)) for p in probs])),
        within_spearman_uniformity=float(np.nanmean(
            [_spearman(p, u) for p, u in zip(probs, uniformity)])),
        within_spearman_low_std=float(np.nanmean(
            [_spearman(p, -s) for p, s in zip(probs, stds)])),
        within_spearman_low_std_vs_uniformity=float(np.nanmean(
            [_spearman(-s, u) for s, u in zip(stds, uniformity)])))


def gate_quality(model: nn.Module, dataset, num_images: Optional[int] = None,
                 ratios: Sequence[float] = (0.25, 0.5, 0.75), seeds: Sequence[int] = (0, 1, 2),
                 progress: bool = False) -> Dict[str, object]:
    """mIoU of every (budget, source) pair over the first ``num_images`` validation images.

    Returns:
        dict with ``rows`` (one per budget: ``budget``, ``coarse_ratio`` (mean share of
        coarse regions), and per source its mIoU, random as mean/min/max over the seeds),
        ``sources``, ``num_images``, ``learned`` (whether the model's gate is learned) and,
        for a learned gate, ``gate_statistics``.
    """
    backbone = model.backbone
    size = backbone.tokenizer.coarse_patch_size
    num_classes = len(dataset.metainfo['classes'])
    ignore = 255
    learned = has_learned_gate(model)
    budgets: List[str] = (['own'] if learned else []) + [f'{r:g}' for r in ratios]
    areas: Dict[Tuple[str, str], list] = {}
    shares: Dict[str, List[float]] = {b: [] for b in budgets}
    stats_in: Dict[str, List[Tensor]] = {'probs': [], 'uni': [], 'std': []}
    n = len(dataset) if not num_images or num_images <= 0 else min(num_images, len(dataset))
    bar = _progress(n) if progress else None
    for index, batch in enumerate(preprocessed(model, dataset, n)):
        inputs, samples = batch['inputs'], batch['data_samples']
        with torch.no_grad():
            _, aux = backbone.forward_with_aux(inputs)
        labels = labels_on_inputs(samples, inputs.shape[-2:])
        scores = source_scores(inputs, labels, aux['gate_probs'] if learned else None, size,
                               num_classes, seeds, index, ignore)
        regions = scores['std'][0].numel()
        if learned:
            stats_in['probs'].append(aux['gate_probs'][0])
            stats_in['uni'].append(scores['oracle'][0])
            stats_in['std'].append(-scores['std'][0])
        for budget in budgets:
            counts = (aux['coarse_mask'].flatten(1).sum(1) if budget == 'own'
                      else rate_counts(inputs.shape[0], regions, float(budget)))
            shares[budget].append(float(counts.float().mean()) / regions)
            for source, score in scores.items():
                mask = (aux['coarse_mask'] if (budget, source) == ('own', 'learned')
                        else topk_regions(score, counts))
                pred = predict_with_mask(model, inputs, samples, mask)
                got = sample_areas(pred, samples, num_classes, ignore)
                key = (budget, source)
                areas[key] = got if key not in areas else [a + b for a, b in zip(areas[key], got)]
        if bar is not None:
            bar.update()
    sources = (['learned'] if learned else []) + ['random'] + list(RULES) + ['oracle']
    rows = []
    for budget in budgets:
        row: Dict[str, object] = dict(budget=budget, coarse_ratio=float(np.mean(shares[budget])))
        for source in sources:
            if source == 'random':
                vals = [area_metrics(areas[(budget, f'random{s}')])['mIoU'] for s in seeds]
                row.update(random=float(np.mean(vals)), random_min=min(vals),
                           random_max=max(vals))
            else:
                row[source] = area_metrics(areas[(budget, source)])['mIoU']
        rows.append(row)
    out = dict(rows=rows, sources=sources, num_images=n, learned=learned, seeds=list(seeds))
    if learned:
        out['gate_statistics'] = gate_statistics(stats_in['probs'], stats_in['uni'],
                                                 stats_in['std'])
    return out


def _progress(n: int):
    import sys

    from mmengine.utils import ProgressBar
    return ProgressBar(n, file=sys.stderr)


def markdown(result: Dict[str, object]) -> str:
    """The rows as a markdown table: one line per budget, mIoU per source."""
    sources = result['sources']
    head = ['coarse share per image', 'coarse ratio'] + [
        'random (mean, min-max)' if s == 'random' else s for s in sources]
    rows = []
    for row in result['rows']:
        cells = ["the gate's own counts" if row['budget'] == 'own' else row['budget'],
                 f"{row['coarse_ratio']:.3f}"]
        for s in sources:
            cells.append(f"{row['random']:.2f} ({row['random_min']:.2f}-{row['random_max']:.2f})"
                         if s == 'random' else f'{row[s]:.2f}')
        rows.append(cells)
    return markdown_table(head, rows) + '\n'


def summary_line(result: Dict[str, object], budget: str = '0.5') -> Optional[str]:
    """One line: the learned gate against random and the rules at ``budget`` (learned only)."""
    row = next((r for r in result['rows'] if r['budget'] == budget), None)
    if row is None or 'learned' not in row:
        return None
    return (f"at {budget} coarse per image: learned {row['learned']:.2f} mIoU, "
            f"random {row['random']:.2f} ({row['learned'] - row['random']:+.2f}), "
            f"std rule {row['std']:.2f} ({row['learned'] - row['std']:+.2f}), "
            f"entropy rule {row['entropy']:.2f}, oracle {row['oracle']:.2f}")


def target_coarse_ratio(cfg) -> Optional[float]:
    """The first ``target_coarse_ratio`` among the config's gate losses (None if none): the
    share a learned gate is calibrated to."""
    losses = cfg.model.get('gate_loss') or []
    losses = losses if isinstance(losses, (list, tuple)) else [losses]
    targets = [lo['target_coarse_ratio'] for lo in losses if 'target_coarse_ratio' in lo]
    return float(targets[0]) if targets else None


def calibrate(model: nn.Module, dataset, target: float, num_images: Optional[int] = None
              ) -> Dict[str, float]:
    """The inference threshold at which the learned gate keeps a share ``target`` coarse.

    The gate's probabilities on the first ``num_images`` images of ``dataset`` (as inference
    sees them) are pooled and cut at their ``1 - target`` quantile.

    Returns:
        ``threshold``, ``coarse_ratio`` (the share reached on these images),
        ``coarse_ratio_at_0.5`` (the share at the default threshold), ``num_images``.
    """
    if not has_learned_gate(model):
        raise ValueError('calibration needs a learned gate (this model has '
                         f'{type(model.backbone.tokenizer.gate).__name__})')
    n = len(dataset) if not num_images or num_images <= 0 else min(num_images, len(dataset))
    probs = []
    for batch in preprocessed(model, dataset, n):
        with torch.no_grad():
            probs.append(model.backbone.forward_with_aux(batch['inputs'])[1]['gate_probs'].flatten())
    probs = torch.cat(probs)
    threshold = calibrate_threshold(probs, target)
    return dict(threshold=threshold, coarse_ratio=float((probs > threshold).float().mean()),
                coarse_ratio_at_default=float((probs > 0.5).float().mean()), num_images=n)


def _spearman(a: Tensor, b: Tensor) -> float:
    """Tie-averaged Spearman (:func:`.stats.spearman`; NaN if a side is constant)."""
    return spearman(a, b)
