"""WithinImageShapingLoss and GateLabelLoss against hand computations; their arguments."""
import math

import numpy as np
import pytest
import torch
from mmseg.registry import MODELS
from scipy import stats

from msvit_mm.models.losses import GateLabelLoss, GateLossInput, WithinImageShapingLoss

from .helpers import gate_input


def test_within_image_shaping_by_hand():
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(3, 2, 3, generator=gen, dtype=torch.float64) * 0.9 + 0.05).requires_grad_()
    loss = WithinImageShapingLoss(target_coarse_ratio=0.3, concentration=2.0, loss_weight=0.5)
    a, b = 0.3 * 2.0, 0.7 * 2.0
    per_image = []
    for img in x.detach().numpy():
        xs = np.sort(img.ravel())  # this image's 6 regions, not the batch at a position
        e = np.arange(1, 7) / 7
        per_image.append(((e - stats.beta.cdf(xs, a, b)) ** 2).sum() / 6)
    np.testing.assert_allclose(loss(gate_input(x)).item(), 0.5 * np.mean(per_image),
                               rtol=1e-10)
    # the regions of one image are matched to the prior, whatever the other images hold
    assert torch.allclose(loss(gate_input(x[:1])), torch.tensor(0.5 * per_image[0],
                                                                dtype=torch.float64))
    assert torch.autograd.gradcheck(lambda p: loss(gate_input(p)), (x,), eps=1e-6, atol=1e-7)


def _labels():
    """Two 64 x 64 label maps, 2 x 2 regions of 32 px, whose majority shares are known."""
    lab = torch.full((2, 64, 64), 255, dtype=torch.long)
    lab[0, :32, :32] = 1                          # one class: 1.0
    lab[0, :32, 32:] = 0
    lab[0, :16, 32:] = 1                          # half and half: 0.5
    lab[0, 32:, :32] = 2
    lab[0, 32, :10] = 0                           # 1014 / 1024 = 0.990
    #  lab[0, 32:, 32:] unlabelled: nothing to lose, 1.0
    lab[1, :16] = 0                               # 512 labelled pixels per top region ...
    lab[1, 0, :10] = 1                            # ... 502 / 512 = 0.9805
    lab[1, 0, 32:62] = 1                          # 482 / 512 = 0.941
    lab[1, 32:] = 2
    lab[1, 32:, :2] = 1                           # 960 / 1024 = 0.9375
    lab[1, 32:, 32:34] = 1                        # 960 / 1024 again
    return lab


def test_gate_label_loss_by_hand():
    lab = _labels()
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 2, 2, generator=gen, requires_grad=True)
    inputs = GateLossInput(gate_logits=logits, gate_probs=torch.sigmoid(logits),
                           coarse_mask=logits > 0, labels=lab, region_size=32, num_classes=3)
    want_uni = torch.tensor([[[1.0, 0.5], [1014 / 1024, 1.0]],
                             [[502 / 512, 482 / 512], [960 / 1024, 960 / 1024]]])
    torch.testing.assert_close(inputs.label_uniformity(), want_uni)
    targets = [[[1, 0], [1, 1]], [[1, 0], [0, 0]]]  # uniformity >= 0.98
    total = 0.0
    for z, t in zip(logits.detach().flatten().tolist(), sum(sum(targets, []), [])):
        p = 1 / (1 + math.exp(-z))
        total += -(t * math.log(p) + (1 - t) * math.log(1 - p))
    loss = GateLabelLoss(min_uniformity=0.98, loss_weight=0.3)
    value = loss(inputs)
    np.testing.assert_allclose(value.item(), 0.3 * total / 8, rtol=1e-6)
    value.backward()  # d/dz of the mean BCE: (sigmoid(z) - t) / 8
    want = 0.3 * (torch.sigmoid(logits.detach()) - torch.tensor(targets, dtype=torch.float)) / 8
    torch.testing.assert_close(logits.grad, want)


def test_gate_label_loss_refuses_missing_labels():
    probs = torch.full((1, 2, 2), 0.5)
    with pytest.raises(ValueError, match='GateLabelLoss needs .*labels'):
        GateLabelLoss()(gate_input(probs))
    with pytest.raises(ValueError, match=r'label regions \(1, 1, 1\) do not match'):
        GateLabelLoss()(gate_input(probs, labels=torch.zeros(1, 32, 32, dtype=torch.long),
                                   num_classes=2))
    with pytest.raises(TypeError, match='takes a GateLossInput'):
        WithinImageShapingLoss()(probs)


@pytest.mark.parametrize('cls,kwargs,name', [
    (WithinImageShapingLoss, dict(target_coarse_ratio=0), 'target_coarse_ratio'),
    (WithinImageShapingLoss, dict(target_coarse_ratio=1.0), 'target_coarse_ratio'),
    (WithinImageShapingLoss, dict(target_coarse_ratio=float('nan')), 'target_coarse_ratio'),
    (WithinImageShapingLoss, dict(concentration=0.0), 'concentration'),
    (WithinImageShapingLoss, dict(concentration=float('inf')), 'concentration'),
    (WithinImageShapingLoss, dict(pdf_clip=(1.0, 0.1)), 'pdf_clip'),
    (WithinImageShapingLoss, dict(loss_weight=-1.0), 'loss_weight'),
    (GateLabelLoss, dict(min_uniformity=0.0), 'min_uniformity'),
    (GateLabelLoss, dict(min_uniformity='high'), 'min_uniformity'),
    (GateLabelLoss, dict(loss_name='gate_label'), 'loss_name'),
])
def test_bad_arguments_name_the_argument(cls, kwargs, name):
    with pytest.raises(ValueError, match=name):
        cls(**kwargs)


def test_registered_names_and_arguments_unchanged():
    import msvit_mm  # noqa: F401  (registration)
    within = MODELS.build(dict(type='WithinImageShapingLoss', target_coarse_ratio=0.4,
                               concentration=1.0, loss_weight=2.0))
    label = MODELS.build(dict(type='GateLabelLoss', min_uniformity=0.9, loss_weight=0.2))
    assert (within.loss_name, within.alpha, within.beta) == ('loss_gate_image', 0.4, 0.6)
    assert (label.loss_name, label.min_uniformity, label.loss_weight) == (
        'loss_gate_label', 0.9, 0.2)
