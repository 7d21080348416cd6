"""What every gate loss shares: its input (:class:`GateLossInput`), its weight, its key in
the losses dict, the input check and the gathering over ranks."""
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from msvit_mm.ops.checks import check_non_negative
from msvit_mm.ops.distributed import gather_with_grad
from msvit_mm.ops.region_scores import label_uniformity


@dataclass(frozen=True)
class GateLossInput:
    """What every gate loss is called with: the gate's outputs on one batch and its labels.

    Each loss reads what it needs (the shaping losses ``gate_probs``, ``GateLabelLoss``
    ``gate_logits`` and :meth:`label_uniformity`), so the caller treats all alike.

    Attributes:
        gate_logits: [B, Hc, Wc] the gate's logits (with gradient when it learns).
        gate_probs: [B, Hc, Wc] ``sigmoid(gate_logits)``, the probabilities of staying coarse.
        coarse_mask: [B, Hc, Wc] bool decisions.
        labels: [B, H, W] integer ground truth of the inputs (``ignore_index`` where
            unlabelled or padded), or None (then a loss that needs labels refuses).
        region_size: pixels per gate region side (``coarse_patch_size``).
        num_classes: classes in ``labels`` (needed with labels).
        ignore_index: label of unlabelled pixels.
    """
    gate_logits: Tensor
    gate_probs: Tensor
    coarse_mask: Tensor
    labels: Optional[Tensor] = None
    region_size: int = 32
    num_classes: Optional[int] = None
    ignore_index: int = 255

    def label_uniformity(self) -> Tensor:
        """[B, Hc, Wc] share of each region's labelled pixels in its majority class (1.0 for a
        region with no labelled pixel), on ``gate_logits``' device; computed on each call."""
        if self.labels is None or self.num_classes is None:
            raise ValueError('label uniformity needs GateLossInput.labels and num_classes '
                             f'(got labels={"None" if self.labels is None else "a tensor"}, '
                             f'num_classes={self.num_classes!r})')
        uni = label_uniformity(self.labels, self.region_size, self.num_classes,
                               self.ignore_index)
        if tuple(uni.shape) != tuple(self.gate_logits.shape):
            raise ValueError(f'label regions {tuple(uni.shape)} do not match the gate grid '
                             f'{tuple(self.gate_logits.shape)}: labels and inputs differ in size')
        return uni.to(self.gate_logits.device)


class BaseGateLoss(nn.Module):
    """Base of the gate losses: ``loss_weight``, ``loss_name`` and ``gather``.

    ``forward(inputs: GateLossInput) -> Tensor``: a scalar, already times ``loss_weight``.

    Args:
        loss_weight: multiplies the loss (>= 0).
        loss_name: key in the losses dict; must start with ``loss`` (mmseg sums those).
        gather: gather the gate outputs of all ranks first (``gather_with_grad``), so the
            statistics are over the global batch; the local part's gradient is scaled by the
            world size so that, after DDP averages the gradients, the update is that of one
            process on the whole batch (see ``msvit_mm.ops.distributed``).
    """

    def __init__(self, loss_weight: float, loss_name: str, gather: bool = False) -> None:
        super().__init__()
        if not (isinstance(loss_name, str) and loss_name.startswith('loss')):
            raise ValueError(f"loss_name must be a str starting with 'loss' (mmseg only "
                             f'backpropagates those), got {loss_name!r}')
        self.loss_weight = check_non_negative('loss_weight', loss_weight)
        self.gather = gather
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def probs(self, inputs: GateLossInput) -> Tensor:
        """``inputs.gate_probs`` through :meth:`prepare`; ``inputs`` must be a GateLossInput."""
        if not isinstance(inputs, GateLossInput):
            raise TypeError(f'{type(self).__name__} takes a GateLossInput (gate_logits, '
                            f'gate_probs, coarse_mask, labels), got {type(inputs).__name__}')
        return self.prepare(inputs.gate_probs)

    def prepare(self, gate_probs: Tensor) -> Tensor:
        """Check [B, Hc, Wc], cast to >= float32, gather over ranks if asked: [B_global, Hc, Wc].

        The losses compute in float32 (float64 if given), whatever the input's dtype (e.g.
        float16 under mixed precision).
        """
        if not isinstance(gate_probs, Tensor) or gate_probs.dim() != 3:
            shape = tuple(gate_probs.shape) if isinstance(gate_probs, Tensor) else type(gate_probs)
            raise ValueError(f'gate_probs must be a [B, Hc, Wc] tensor, got {shape}')
        if not gate_probs.is_floating_point() or gate_probs.shape[0] == 0:
            raise ValueError(f'gate_probs must be a non-empty float tensor, got dtype '
                             f'{gate_probs.dtype}, shape {tuple(gate_probs.shape)}')
        x = gate_probs.to(torch.promote_types(gate_probs.dtype, torch.float32))
        return gather_with_grad(x, scale_grad_by_world_size=True) if self.gather else x
