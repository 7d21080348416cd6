"""EncoderDecoder with MSViT's gate losses and token statistics."""
from typing import Dict, List, Optional, Union

from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import SampleList
import torch
from torch import Tensor, nn

from ..losses.base import GateLossInput


@MODELS.register_module()
class MSViTEncoderDecoder(EncoderDecoder):
    """mmseg's ``EncoderDecoder`` plus the gate losses of an MSViT backbone.

    Args:
        gate_loss: one loss config or a list (e.g. ``GeneralizedBatchShapingLoss``); each
            is called on a ``GateLossInput`` (the gate's logits, probabilities and decisions
            [B, Hc, Wc] and the batch's labels) and logged under its ``loss_name``
            (``loss_gate*``). None trains without a gate loss.
        *args, **kwargs: as ``EncoderDecoder``; the backbone must provide
            ``forward_with_aux`` (``MSViT`` does).

    ``loss`` also returns ``tokens_per_image`` and ``coarse_ratio`` (batch means, no
    gradient), which mmengine logs beside the losses. Inference is ``EncoderDecoder``'s.
    """

    def __init__(self, *args, gate_loss: Optional[Union[dict, List[dict]]] = None, **kwargs):
        super().__init__(*args, **kwargs)
        if not hasattr(self.backbone, 'forward_with_aux'):
            raise ValueError(f'backbone {type(self.backbone).__name__} has no forward_with_aux; '
                             'MSViTEncoderDecoder needs an MSViT backbone')
        self.gate_losses = build_gate_losses(gate_loss)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        feats, aux = self.backbone.forward_with_aux(inputs)
        x = self.neck(feats) if self.with_neck else feats
        losses = dict(self._decode_head_forward_train(x, data_samples))
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        if self.gate_losses:
            losses.update(self.gate_loss_values(self.gate_loss_input(aux, data_samples)))
        losses.update(token_statistics(aux))
        return losses

    def gate_loss_input(self, aux: Dict[str, Tensor],
                        data_samples: Optional[SampleList] = None) -> GateLossInput:
        """The backbone's gate outputs ``aux`` and the ground truth of ``data_samples``
        (stacked [B, H, W]; None without samples) as the gate losses take them."""
        labels = None
        if data_samples:
            labels = torch.stack([s.gt_sem_seg.data[0] for s in data_samples])
        return GateLossInput(
            gate_logits=aux['gate_logits'], gate_probs=aux['gate_probs'],
            coarse_mask=aux['coarse_mask'], labels=labels,
            region_size=self.backbone.tokenizer.coarse_patch_size,
            num_classes=self.decode_head.num_classes, ignore_index=self.decode_head.ignore_index)

    def gate_loss_values(self, inputs: GateLossInput) -> Dict[str, Tensor]:
        """Each gate loss on ``inputs``, summed per ``loss_name``."""
        return gate_loss_values(self.gate_losses, inputs)


def build_gate_losses(gate_loss: Optional[Union[dict, List[dict]]]) -> nn.ModuleList:
    """One gate loss config, a list of them, or None (no gate loss) -> the built losses."""
    cfgs = [] if gate_loss is None else (
        list(gate_loss) if isinstance(gate_loss, (list, tuple)) else [gate_loss])
    return nn.ModuleList(MODELS.build(cfg) for cfg in cfgs)


def gate_loss_values(gate_losses: nn.ModuleList, inputs: GateLossInput) -> Dict[str, Tensor]:
    """Each gate loss on ``inputs`` (a ``GateLossInput``), summed per ``loss_name``."""
    out: Dict[str, Tensor] = {}
    for loss in gate_losses:
        value = loss(inputs)
        out[loss.loss_name] = out[loss.loss_name] + value if loss.loss_name in out else value
    return out


def token_statistics(aux: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """``tokens_per_image`` and ``coarse_ratio`` of a backbone's ``aux`` as batch means (no
    gradient), for the training log."""
    return dict(tokens_per_image=aux['tokens_per_image'].float().mean().detach(),
                coarse_ratio=aux['coarse_ratio'].mean().detach())
