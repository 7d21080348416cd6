"""MSViTEncoderDecoder with UPerNet (+ FCN auxiliary) and with Segmenter's mask head."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

import msvit_mm  # noqa: F401

from .helpers import gate_input

BACKBONE = dict(type='MSViT', img_size=(64, 64), patch_size=16, embed_dims=32, num_layers=4,
                num_heads=4, mlp_ratio=2, out_indices=(0, 1, 2, 3), final_norm=True,
                gate=dict(type='MLPGate', hidden_dims=(16, 16, 16)))
PREPROCESSOR = dict(type='SegDataPreProcessor', mean=[0., 0., 0.], std=[1., 1., 1.],
                    pad_val=0, seg_pad_val=255, size=(64, 64))
NORM = dict(type='BN', requires_grad=True)
UPERNET = dict(
    decode_head=dict(type='UPerHead', in_channels=[32] * 4, in_index=[0, 1, 2, 3],
                     pool_scales=(1, 2), channels=16, num_classes=5, norm_cfg=NORM,
                     loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    auxiliary_head=dict(type='FCNHead', in_channels=32, in_index=3, channels=8, num_convs=1,
                        concat_input=False, num_classes=5, norm_cfg=NORM,
                        loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)))
SEGMENTER = dict(
    decode_head=dict(type='SegmenterMaskTransformerHead', in_channels=32, channels=32,
                     num_classes=5, num_layers=1, num_heads=4, embed_dims=32,
                     loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)))
GATE_LOSSES = [dict(type='GeneralizedBatchShapingLoss', target_coarse_ratio=0.5,
                    grid_size=(2, 2)),
               dict(type='TargetRateLoss', target_coarse_ratio=0.5)]


def _batch(n=2, hw=(64, 64)):
    inputs = torch.randn(n, 3, *hw)
    samples = []
    for _ in range(n):
        s = SegDataSample(metainfo=dict(img_shape=hw, ori_shape=hw, pad_shape=hw))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, *hw)))
        samples.append(s)
    return inputs, samples


@pytest.mark.parametrize('heads, expected', [
    (UPERNET, {'decode.loss_ce', 'aux.loss_ce'}),
    (SEGMENTER, {'decode.loss_ce'}),
])
def test_losses_and_predict(heads, expected):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='MSViTEncoderDecoder', data_preprocessor=PREPROCESSOR,
                              backbone=BACKBONE, gate_loss=GATE_LOSSES,
                              test_cfg=ConfigDict(mode='whole'), **heads))
    model.init_weights()
    model.train()
    inputs, samples = _batch()
    losses = model.loss(inputs, samples)
    assert expected | {'loss_gate_gbas', 'loss_gate_rate'} <= set(losses)
    assert 0 <= losses['coarse_ratio'] <= 1
    assert 4 <= losses["tokens_per_image"] <= 16  # 2x2 regions: all coarse .. all fine
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    gate_grad = model.backbone.tokenizer.gate.mlp[0].weight.grad
    assert gate_grad is not None and gate_grad.abs().sum() > 0
    model.eval()
    inputs, samples = _batch(hw=(48, 80))
    with torch.no_grad():
        preds = model.predict(inputs, samples)
    assert len(preds) == 2
    assert preds[0].pred_sem_seg.data.shape == (1, 48, 80)
    assert preds[0].seg_logits.data.shape == (5, 48, 80)


def test_segmentor_rejects_plain_vit():
    cfg = dict(type='MSViTEncoderDecoder', data_preprocessor=PREPROCESSOR,
               backbone=dict(BACKBONE, type='VisionTransformer'), **SEGMENTER)
    for k in ('gate',):
        cfg['backbone'].pop(k)
    with pytest.raises(ValueError, match='forward_with_aux'):
        MODELS.build(cfg)


def test_label_path_gives_a_loss_the_labels():
    """A gate loss that needs labels gets the batch's ground truth through the same call as
    the others: GateLabelLoss's value is the BCE towards the regions' label uniformity."""
    torch.manual_seed(0)
    losses_cfg = [dict(type='GateLabelLoss', min_uniformity=0.98, loss_weight=0.3),
                  dict(type='WithinImageShapingLoss', target_coarse_ratio=0.5)]
    model = MODELS.build(dict(type='MSViTEncoderDecoder', data_preprocessor=PREPROCESSOR,
                              backbone=BACKBONE, gate_loss=losses_cfg, **SEGMENTER)).train()
    inputs, samples = _batch()
    labels = torch.randint(0, 5, (2, 64, 64))  # image 1: mixed regions (targets 0)
    labels[0] = 0  # image 0: one class per 32 x 32 region (targets 1)
    labels[0, :32, 32:], labels[0, 32:, :32], labels[0, 32:, 32:] = 1, 2, 3
    for s, lab in zip(samples, labels):
        s.gt_sem_seg = PixelData(data=lab[None])
    losses = model.loss(inputs, samples)
    _, aux = model.backbone.forward_with_aux(inputs)  # the same (deterministic) logits
    z = aux['gate_logits'].detach()
    t = torch.zeros(2, 2, 2)
    t[0] = 1
    bce = -(t * F.logsigmoid(z) + (1 - t) * F.logsigmoid(-z)).mean()
    torch.testing.assert_close(losses['loss_gate_label'].detach(), 0.3 * bce)
    within = MODELS.build(losses_cfg[1])(gate_input(aux['gate_probs']))
    torch.testing.assert_close(losses['loss_gate_image'].detach(), within.detach())
    losses['loss_gate_label'].backward()
    assert model.backbone.tokenizer.gate.mlp[0].weight.grad.abs().sum() > 0
