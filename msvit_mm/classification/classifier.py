"""MSViTImageClassifier: mmpretrain's ImageClassifier plus MSViT's gate losses."""
from typing import Dict, List, Optional, Union

from mmengine.logging import print_log
from mmengine.registry import DefaultScope
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ..models.losses.base import GateLossInput
from ..models.segmentors.msvit_encoder_decoder import (build_gate_losses, gate_loss_values,
                                                        token_statistics)
from .checkpoint import load_classifier_checkpoint


@MODELS.register_module()
class MSViTImageClassifier(ImageClassifier):
    """mmpretrain's ``ImageClassifier`` with the gate losses of an MSViT backbone.

    Args:
        gate_loss: one gate loss config or a list (e.g. ``GeneralizedBatchShapingLoss``,
            mmseg-registered, built in mmseg's scope); each is called on a
            ``GateLossInput`` (no labels: image labels say nothing about regions) and logged
            under its ``loss_name``. None: no gate loss.
        *args, **kwargs: as ``ImageClassifier``; the backbone must provide
            ``forward_with_aux`` (``MSViTCls`` does). ``init_cfg`` (or ``pretrained``) may
            hold ``dict(type='Pretrained', checkpoint=..., load_head=True)``: a timm/DeiT,
            mmpretrain or MSViT classifier checkpoint, head included, converted and
            checked (``msvit_mm.classification.checkpoint``); other init entries (e.g. the
            DeiT configs' TruncNormal) run first.

    ``loss`` also returns ``tokens_per_image`` and ``coarse_ratio`` (batch means, no
    gradient), which mmengine logs beside the losses. Inference is ``ImageClassifier``'s.
    """

    def __init__(self, *args, gate_loss: Optional[Union[dict, List[dict]]] = None, **kwargs):
        super().__init__(*args, **kwargs)
        if not hasattr(self.backbone, 'forward_with_aux'):
            raise ValueError(f'backbone {type(self.backbone).__name__} has no forward_with_aux; '
                             'MSViTImageClassifier needs an MSViT backbone (MSViTCls)')
        with DefaultScope.overwrite_default_scope('mmseg'):
            self.gate_losses = build_gate_losses(gate_loss)

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> Dict[str, Tensor]:
        """Head loss + gate losses + token statistics; inputs [B, C, H, W]."""
        feats, aux = self.backbone.forward_with_aux(inputs)
        if self.with_neck:
            feats = self.neck(feats)
        losses = dict(self.head.loss(feats, data_samples))
        if self.gate_losses:
            losses.update(gate_loss_values(self.gate_losses, self.gate_loss_input(aux)))
        losses.update(token_statistics(aux))
        return losses

    def gate_loss_input(self, aux: Dict[str, Tensor]) -> GateLossInput:
        """The backbone's gate outputs ``aux`` as the gate losses take them (no labels)."""
        return GateLossInput(gate_logits=aux['gate_logits'], gate_probs=aux['gate_probs'],
                             coarse_mask=aux['coarse_mask'],
                             region_size=self.backbone.tokenizer.coarse_patch_size)

    def init_weights(self) -> None:
        """The other ``init_cfg`` entries, then a ``Pretrained`` entry's checkpoint."""
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        pretrained = [c for c in cfgs if isinstance(c, dict) and c.get('type') == 'Pretrained']
        if not pretrained:
            super().init_weights()
            return
        if len(pretrained) > 1:
            raise ValueError(f'MSViTImageClassifier: one Pretrained init_cfg entry, got '
                             f'{len(pretrained)}')
        others = [c for c in cfgs if c is not None and c not in pretrained]
        saved, self.init_cfg = self.init_cfg, others or None
        try:
            super().init_weights()
        finally:
            self.init_cfg = saved
        cfg = pretrained[0]
        report = load_classifier_checkpoint(self, str(cfg['checkpoint']),
                                            load_head=cfg.get('load_head', True),
                                            source_grid=cfg.get('source_grid'))
        print_log(report.summary(), logger='current')
