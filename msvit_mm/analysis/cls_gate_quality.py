"""Gate quality of an MSViT image classifier: top-1 accuracy under other decisions of equal size.

The classification counterpart of :mod:`.gate_quality` (same sources, same budgets, same
random streams): a fixed trained classifier is run with the coarse regions chosen by its own
gate, by random choice, by the training-free rules (lowest pixel std / grey-level entropy
first) and, where the images' object masks are known, by an *object oracle* (the regions
holding the least object first), each with the same number of coarse regions per image.
The accuracy differences are what the choice of regions is worth.

Works with any mmpretrain ``ImageClassifier`` whose backbone has MSViT's
``forward_with_aux(inputs, coarse_mask)``; nothing here imports mmpretrain.
"""
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.patchify import pad_to_multiple
from ..ops.region_scores import rate_counts, topk_regions
from .gate_quality import RULES, source_scores
from .loading import has_learned_gate

__all__ = ['classify_with_mask', 'cls_gate_quality', 'cls_summary_line', 'object_scores']


def classify_with_mask(model: nn.Module, inputs: Tensor,
                       coarse_mask: Optional[Tensor] = None) -> Tensor:
    """[B] predicted class indices of ``model`` (an ImageClassifier with an MSViT backbone)
    on ``inputs`` [B, 3, H, W] (preprocessed), with the gate's decisions replaced by
    ``coarse_mask`` [B, Hc, Wc] bool (None: the gate's own)."""
    with torch.no_grad():
        feats, _ = model.backbone.forward_with_aux(inputs, coarse_mask)
        if getattr(model, 'with_neck', False):
            feats = model.neck(feats)
        return model.head(feats).argmax(dim=1)


def object_scores(masks: Tensor, region_size: int) -> Tensor:
    """[B, Hc, Wc]: minus the share of object pixels per region of ``masks`` [B, H, W] bool
    (padded with background to whole regions): the emptiest regions score highest."""
    padded = pad_to_multiple(masks[:, None].float(), region_size)
    return -F.avg_pool2d(padded, region_size)[:, 0]


def _labels(samples: list) -> Tensor:
    return torch.cat([s.gt_label.reshape(-1)[:1] for s in samples]).long()


def cls_gate_quality(model: nn.Module, batches: Iterable[dict],
                     ratios: Sequence[float] = (0.5,), seeds: Sequence[int] = (0, 1, 2),
                     object_masks: Optional[Callable[[list], Tensor]] = None
                     ) -> Dict[str, object]:
    """Top-1 accuracy (%) of every (budget, source) pair over ``batches``.

    Args:
        model: an ImageClassifier with an MSViT backbone, in eval mode.
        batches: ``dict(inputs=[B, 3, H, W], data_samples=[DataSample])`` as the data
            preprocessor gives them (``msvit_mm.analysis.loading.preprocessed``).
        ratios: fixed budgets (share of coarse regions per image), besides ``own`` (the
            learned gate's own count per image; learned gates only).
        seeds: random sources (their mean, min and max are reported).
        object_masks: ``object_masks(data_samples) -> [B, H, W] bool`` on the input grid,
            for the object oracle; None: no oracle.

    Returns:
        dict with ``rows`` (per budget: ``budget``, ``coarse_ratio``, the accuracy per
        source; random as ``random`` / ``random_min`` / ``random_max``), ``sources``,
        ``num_images``, ``learned``, ``seeds``.
    """
    backbone = model.backbone
    size = backbone.tokenizer.coarse_patch_size
    learned = has_learned_gate(model)
    budgets: List[str] = (['own'] if learned else []) + [f'{r:g}' for r in ratios]
    correct: Dict[tuple, int] = {}
    shares: Dict[str, List[float]] = {b: [] for b in budgets}
    num = 0
    for index, batch in enumerate(batches):
        inputs, samples = batch['inputs'], batch['data_samples']
        truth = _labels(samples)
        with torch.no_grad():
            _, aux = backbone.forward_with_aux(inputs)
        # the learned gate's regions ranked by its logits: the same order as its
        # probabilities, without the ties of probabilities saturated at 0 or 1 in float32
        scores = source_scores(inputs, None, aux['gate_logits'] if learned else None, size, 0,
                               seeds, index)
        if object_masks is not None:
            scores['object'] = object_scores(object_masks(samples), size)
        regions = scores['std'][0].numel()
        for budget in budgets:
            counts = (aux['coarse_mask'].flatten(1).sum(1) if budget == 'own'
                      else rate_counts(inputs.shape[0], regions, float(budget)))
            shares[budget] += (counts.float() / regions).tolist()
            for source, score in scores.items():
                mask = (aux['coarse_mask'] if (budget, source) == ('own', 'learned')
                        else topk_regions(score, counts))
                hits = int((classify_with_mask(model, inputs, mask) == truth).sum())
                correct[(budget, source)] = correct.get((budget, source), 0) + hits
        num += inputs.shape[0]
    if num == 0:
        raise ValueError('cls_gate_quality got no images')
    sources = (['learned'] if learned else []) + ['random'] + list(RULES) + (
        ['object'] if object_masks is not None else [])
    rows = []
    for budget in budgets:
        row: Dict[str, object] = dict(budget=budget, coarse_ratio=float(np.mean(shares[budget])))
        for source in sources:
            if source == 'random':
                vals = [100.0 * correct[(budget, f'random{s}')] / num for s in seeds]
                row.update(random=float(np.mean(vals)), random_min=min(vals),
                           random_max=max(vals))
            else:
                row[source] = 100.0 * correct[(budget, source)] / num
        rows.append(row)
    return dict(rows=rows, sources=sources, num_images=num, learned=learned, seeds=list(seeds))


def cls_summary_line(result: Dict[str, object], budget: str = 'own') -> Optional[str]:
    """One line: the learned regions' accuracy against random and the rules at ``budget``."""
    row = next((r for r in result['rows'] if r['budget'] == budget), None)
    if row is None or 'learned' not in row:
        return None
    where = ("the gate's own counts" if budget == 'own' else f'{budget}') + \
        f" ({row['coarse_ratio']:.2f} coarse)"
    line = (f"at {where}: learned {row['learned']:.1f}, random {row['random']:.1f} "
            f"({row['learned'] - row['random']:+.1f}), entropy rule {row['entropy']:.1f} "
            f"({row['learned'] - row['entropy']:+.1f}), std rule {row['std']:.1f}")
    if 'object' in row:
        line += f", object oracle {row['object']:.1f}"
    return line + ' (top-1 %)'
