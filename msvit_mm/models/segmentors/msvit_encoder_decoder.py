"""EncoderDecoder with MSViT's gate losses and token statistics."""
from typing import Dict, List, Optional, Union

from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import SampleList
import torch
from torch import Tensor, nn

from ...ops.region_scores import label_uniformity


@MODELS.register_module()
class MSViTEncoderDecoder(EncoderDecoder):
    """mmseg's ``EncoderDecoder`` plus the gate losses of an MSViT backbone.

    Args:
        gate_loss: one loss config or a list (e.g. ``GeneralizedBatchShapingLoss``); each
            is called on the gate's probabilities [B, Hc, Wc] and logged under its
            ``loss_name`` (``loss_gate*``). None trains without a gate loss.
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
        cfgs = [] if gate_loss is None else (
            list(gate_loss) if isinstance(gate_loss, (list, tuple)) else [gate_loss])
        self.gate_losses = nn.ModuleList(MODELS.build(cfg) for cfg in cfgs)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        feats, aux = self.backbone.forward_with_aux(inputs)
        x = self.neck(feats) if self.with_neck else feats
        losses = dict(self._decode_head_forward_train(x, data_samples))
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        losses.update(self.gate_loss_values(aux['gate_probs'], aux['gate_logits'],
                                            data_samples))
        losses['tokens_per_image'] = aux['tokens_per_image'].float().mean().detach()
        losses['coarse_ratio'] = aux['coarse_ratio'].mean().detach()
        return losses

    def gate_loss_values(self, gate_probs: Tensor, gate_logits: Optional[Tensor] = None,
                         data_samples: Optional[SampleList] = None) -> Dict[str, Tensor]:
        """Each gate loss on [B, Hc, Wc] probabilities, summed per ``loss_name``.

        A loss with ``needs_labels = True`` (``GateLabelLoss``) is called with the gate's
        logits and the label uniformity of each region, computed from ``data_samples``.
        """
        out: Dict[str, Tensor] = {}
        uniformity = None
        for loss in self.gate_losses:
            if getattr(loss, 'needs_labels', False):
                if uniformity is None:
                    uniformity = self._label_uniformity(data_samples, gate_probs)
                value = loss(gate_logits, uniformity)
            else:
                value = loss(gate_probs)
            out[loss.loss_name] = out[loss.loss_name] + value if loss.loss_name in out else value
        return out

    def _label_uniformity(self, data_samples: Optional[SampleList], gate_probs: Tensor) -> Tensor:
        """[B, Hc, Wc] share of each region's labelled pixels in its majority class."""
        if not data_samples:
            raise ValueError('a gate loss with needs_labels=True needs the data samples')
        labels = torch.stack([s.gt_sem_seg.data[0] for s in data_samples])
        size = self.backbone.tokenizer.coarse_patch_size
        uni = label_uniformity(labels, size, self.decode_head.num_classes,
                               self.decode_head.ignore_index)
        if tuple(uni.shape) != tuple(gate_probs.shape):
            raise ValueError(f'label regions {tuple(uni.shape)} do not match the gate grid '
                             f'{tuple(gate_probs.shape)}: labels and inputs differ in size')
        return uni.to(gate_probs.device)
