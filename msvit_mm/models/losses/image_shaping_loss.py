"""Shaping within each image: asks the gate to choose regions, not images."""
from typing import Tuple

from mmseg.registry import MODELS
from torch import Tensor, nn

from msvit_mm.ops.batch_shaping import beta_cdf, beta_params, ecdf_loss
from msvit_mm.ops.checks import check_open_unit, check_pdf_clip, check_positive, is_real

from .base import BaseGateLoss, GateLossInput


@MODELS.register_module()
class WithinImageShapingLoss(BaseGateLoss):
    """Batch shaping over the regions of each image instead of over the batch.

    For image b, its R region probabilities are sorted, ``x_(1) <= ... <= x_(R)``, and matched
    to a Beta(t * c, (1 - t) * c) prior (t = ``target_coarse_ratio``, c = ``concentration``):

        L = mean_b sum_r (e_r - F_Beta(x_(r)^b))^2 / R,   e_r = r / (R + 1)

    With c < 2 the prior is U-shaped, so every image must keep about a share t of its
    regions near 1 (coarse) and the rest near 0. The batch-shaping losses (BaS, gBaS) match
    each *position* over the batch, which a gate that makes whole images coarse or fine
    satisfies as well; this term asks for a choice within each image. Not in the MSViT
    paper; combine it with gBaS (``gate_loss=[gbas, within]``).

    Args:
        target_coarse_ratio: prior mean, in (0, 1).
        concentration: ``a + b`` of the prior.
        pdf_clip: (min, max) clip of the prior density in the backward.
        loss_weight: multiplies the loss.
        loss_name: key in the losses dict; must start with ``loss``.
    """

    def __init__(self, target_coarse_ratio: float = 0.5, concentration: float = 1.0,
                 pdf_clip: Tuple[float, float] = (1e-3, 100.0), loss_weight: float = 1.0,
                 loss_name: str = 'loss_gate_image') -> None:
        super().__init__(loss_weight, loss_name)
        self.target_coarse_ratio = check_open_unit('target_coarse_ratio', target_coarse_ratio)
        self.alpha, self.beta = beta_params(self.target_coarse_ratio,
                                            check_positive('concentration', concentration))
        self.pdf_clip = check_pdf_clip(pdf_clip)

    def forward(self, inputs: GateLossInput) -> Tensor:
        """[B, Hc, Wc] probabilities of staying coarse -> scalar loss (times loss_weight)."""
        x = self.probs(inputs).flatten(1)  # B, R (this image's regions: no gather)
        loss = ecdf_loss(x, lambda s: beta_cdf(s, self.alpha, self.beta, self.pdf_clip), dim=1)
        return self.loss_weight * loss.mean()


@MODELS.register_module()
class GateLabelLoss(BaseGateLoss):
    """Auxiliary target for the gate from the labels (beyond the paper; off unless configured).

    A region is a coarse target when at least ``min_uniformity`` of its labelled pixels are
    one class (CTS's criterion); the gate's logits get a binary cross-entropy towards it
    (mean over the regions). The targets come from the input's labels
    (:meth:`GateLossInput.label_uniformity`), which ``MSViTEncoderDecoder`` passes.

    Args:
        min_uniformity: share of the majority class that makes a region a coarse target.
        loss_weight: multiplies the loss.
        loss_name: key in the losses dict; must start with ``loss``.
    """
    def __init__(self, min_uniformity: float = 0.98, loss_weight: float = 0.1,
                 loss_name: str = 'loss_gate_label') -> None:
        super().__init__(loss_weight, loss_name)
        if not (is_real(min_uniformity) and 0.0 < min_uniformity <= 1.0):
            raise ValueError(f'min_uniformity must lie in (0, 1], got {min_uniformity!r}')
        self.min_uniformity = float(min_uniformity)

    def forward(self, inputs: GateLossInput) -> Tensor:
        """``inputs.gate_logits`` [B, Hc, Wc] and the regions' label uniformity -> scalar loss."""
        if not isinstance(inputs, GateLossInput) or inputs.labels is None:
            raise ValueError(f'{type(self).__name__} needs a GateLossInput with labels (the '
                             'ground truth [B, H, W]), as MSViTEncoderDecoder.loss passes it')
        target = (inputs.label_uniformity() >= self.min_uniformity).float()
        return self.loss_weight * nn.functional.binary_cross_entropy_with_logits(
            inputs.gate_logits.float(), target)


__all__ = ['WithinImageShapingLoss', 'GateLabelLoss']
