"""What each training form tells a learning gate: its task gradient against masked training's.

Masked execution runs both scales of every region, so the straight-through gradient of a
decision compares the region's coarse output with its fine outputs. Packed execution runs
only the chosen scale; the other is stood in for by ``packed_counterfactual`` ('zero':
absent tokens read as zeros; 'fine_mean': a fine region's coarse alternative is the mean of
its fine outputs). :func:`gradient_agreement` runs a trained model on the same images with
the same forced decisions in each form (``train_benchmark.LEARNING_FORMS``),
back-propagates the decode head's loss to the gate logits and compares the gradients:
cosine similarity to masked's (all regions, the coarse ones, the fine ones) and the rank
correlation with the regions' label uniformity (``dL/dlogit > 0`` means "rather fine", so
a useful signal correlates negatively with uniformity).
"""
from typing import Dict, List

import torch
from torch import Tensor, nn

from msvit_mm.analysis.gate_quality import labels_on_inputs
from msvit_mm.analysis.loading import preprocessed
from msvit_mm.analysis.markdown import markdown_table
from msvit_mm.analysis.stats import format_corr, spearman
from msvit_mm.ops.patchify import pad_to_multiple
from msvit_mm.ops.region_scores import label_uniformity

from ..speed.speed import spread_masks
from ..speed.train_benchmark import LEARNING_FORMS
from .straight_through import gate_logit_grad, train_without_noise

__all__ = ['gradient_agreement', 'agreement_markdown']


def _cosine(a: Tensor, b: Tensor) -> float:
    den = float(a.norm() * b.norm())
    return float((a * b).sum()) / den if den > 0 else float('nan')


def _rank_corr(g: Tensor, u: Tensor) -> float:
    """Spearman of g with u; nan where g is constant (a form that sends no gradient)."""
    return spearman(g, u)


def gradient_agreement(model: nn.Module, dataset, ratio: float = 0.5, num_images: int = 64,
                       batch_size: int = 8, seed: int = 0) -> Dict[str, Dict[str, float]]:
    """Gate-logit gradients of each training form on the same images and decisions.

    Args:
        model: an MSViT segmentor (weights untouched; batch norm, dropout and stochastic
            depth in eval mode, so every form sees the same network).
        dataset: images as inference loads them (e.g. ``loading.build_train_images``).
        ratio: share of each image's regions forced coarse (random regions, ``seed``).

    Returns:
        per form: ``cos_all`` / ``cos_coarse`` / ``cos_fine`` (cosine with masked's over
        those regions), ``spearman_uniformity_coarse`` / ``_fine`` and ``norm`` (of the
        gradient over all regions).
    """
    backbone = model.backbone
    size = backbone.tokenizer.coarse_patch_size
    num_classes = len(dataset.metainfo['classes'])
    was_training = model.training
    gen = torch.Generator().manual_seed(seed)
    grads: Dict[str, List[Tensor]] = {name: [] for name in LEARNING_FORMS}
    masks, unis = [], []
    train_without_noise(model)
    try:
        for batch in preprocessed(model, dataset, num_images, batch_size):
            x, samples = batch['inputs'], batch['data_samples']
            padded = pad_to_multiple(x, size)
            grid = (padded.shape[-2] // size, padded.shape[-1] // size)
            mask = spread_masks(x.shape[0], grid, ratio, 0., gen)
            for name, (execution, counterfactual) in LEARNING_FORMS.items():
                grads[name].append(gate_logit_grad(model, x, samples, mask, execution,
                                                   counterfactual))
            masks.append(mask.flatten())
            unis.append(label_uniformity(labels_on_inputs(samples, x.shape[-2:]), size,
                                         num_classes).flatten())
    finally:
        model.zero_grad()
        model.train(was_training)
    coarse, uni = torch.cat(masks), torch.cat(unis)
    ref = torch.cat(grads['masked'])
    out = {}
    for name, g in grads.items():
        g = torch.cat(g)
        out[name] = dict(cos_all=_cosine(g, ref), cos_coarse=_cosine(g[coarse], ref[coarse]),
                         cos_fine=_cosine(g[~coarse], ref[~coarse]), norm=float(g.norm()),
                         spearman_uniformity_coarse=_rank_corr(g[coarse], uni[coarse]),
                         spearman_uniformity_fine=_rank_corr(g[~coarse], uni[~coarse]))
    return out


def agreement_markdown(result: Dict[str, Dict[str, float]]) -> str:
    head = ['form', 'cosine with masked (all regions)', 'coarse regions', 'fine regions',
            'Spearman with uniformity (coarse regions)', '(fine regions)', 'gradient norm']
    return markdown_table(head, ([
        name, f"{r['cos_all']:+.3f}", f"{r['cos_coarse']:+.3f}", f"{r['cos_fine']:+.3f}",
        format_corr(r['spearman_uniformity_coarse']), format_corr(r['spearman_uniformity_fine']),
        f"{r['norm']:.3g}"] for name, r in result.items())) + '\n'
