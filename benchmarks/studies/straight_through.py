"""What the straight-through gradient tells a trained gate, with decisions forced.

The gate benchmark's study (``benchmarks/gate/``) and the training-form comparison
(:mod:`benchmarks.studies.gradient_agreement`) back-propagate the decode head's loss to the
gate logits of a trained model, with the decisions forced, nothing updated, and batch norm,
dropout and stochastic depth as at inference (so every form sees the same network).
"""
from typing import Dict, List, Optional

import torch
from torch import Tensor, nn

from msvit_mm.analysis.gate_quality import labels_on_inputs
from msvit_mm.analysis.stats import spearman
from msvit_mm.analysis.loading import preprocessed
from msvit_mm.ops.patchify import pad_to_multiple
from msvit_mm.ops.region_scores import label_uniformity, region_std

__all__ = ['gate_logit_grad', 'straight_through_signal', 'train_without_noise']


def train_without_noise(model: nn.Module) -> None:
    """Training mode, but batch norm, dropout and stochastic depth as at inference: gradients
    of the same images are then the same in every run (the gate's are what is compared)."""
    from mmcv.cnn.bricks.drop import DropPath

    model.train()
    for m in model.modules():
        if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd,
                          DropPath)):
            m.eval()


def gate_logit_grad(model: nn.Module, x: Tensor, samples: list, mask: Tensor,
                    execution: Optional[str] = None, counterfactual: Optional[str] = None
                    ) -> Tensor:
    """d(decode loss)/d(gate logits) [B * Hc * Wc] with the decisions ``mask`` forced, in
    ``execution`` / ``counterfactual`` (None: the backbone's own, as ``forward_with_aux``);
    the parameters' gradients are cleared first."""
    model.zero_grad()
    feats, aux = model.backbone.forward_with_aux(x, mask, execution, counterfactual)
    aux['gate_logits'].retain_grad()
    losses = model.decode_head.loss(feats, samples, model.train_cfg)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    return aux['gate_logits'].grad.detach().flatten()


def straight_through_signal(model: nn.Module, dataset, num_images: int = 64,
                            batch_size: int = 8) -> Dict[str, Dict[str, float]]:
    """What the straight-through gradient tells the gate, with every region coarse or fine.

    On the first ``num_images`` images (as inference loads them), the decode head's loss is
    back-propagated through masked execution with all decisions forced coarse, then fine
    (:func:`train_without_noise`, nothing updated); ``dL/dlogit > 0`` means "rather fine".

    Returns:
        for ``'all_coarse'`` and ``'all_fine'``: ``wants_fine`` (share of regions whose
        gradient says fine), ``spearman_std`` / ``spearman_uniformity`` (rank correlation of
        the gradient with the region's pixel std / label uniformity, over all regions).
    """
    backbone = model.backbone
    size = backbone.tokenizer.coarse_patch_size
    num_classes = len(dataset.metainfo['classes'])
    was_training = model.training
    train_without_noise(model)
    grads: Dict[str, List[Tensor]] = {'all_coarse': [], 'all_fine': []}
    stds, unis = [], []
    try:
        for batch in preprocessed(model, dataset, num_images, batch_size):
            x, samples = batch['inputs'], batch['data_samples']
            padded = pad_to_multiple(x, size)
            grid = (x.shape[0], padded.shape[-2] // size, padded.shape[-1] // size)
            for key, value in (('all_coarse', True), ('all_fine', False)):
                grads[key].append(gate_logit_grad(model, x, samples, torch.full(grid, value),
                                                  execution='masked'))
            stds.append(region_std(padded, size).flatten())
            unis.append(label_uniformity(labels_on_inputs(samples, x.shape[-2:]), size,
                                         num_classes).flatten())
    finally:
        model.zero_grad()
        model.train(was_training)
    std, uni = torch.cat(stds), torch.cat(unis)
    return {key: dict(wants_fine=float((torch.cat(g) > 0).float().mean()),
                      spearman_std=spearman(torch.cat(g), std),
                      spearman_uniformity=spearman(torch.cat(g), uni))
            for key, g in grads.items()}
