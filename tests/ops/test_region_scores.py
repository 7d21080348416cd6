"""Per-region statistics, label uniformity, top-k decisions and threshold calibration."""
import math

import pytest
import torch

from msvit_mm.ops.region_scores import (calibrate_threshold, label_uniformity, rate_counts,
                                        region_entropy, region_std, topk_regions)


def _two_regions():
    """[1, 3, 32, 64]: a flat left region and a half-black/half-white right region."""
    x = torch.zeros(1, 3, 32, 64)
    x[..., 32:48] = -2.0
    x[..., 48:] = 2.0
    return x


def test_std_and_entropy_by_hand():
    x = _two_regions()
    torch.testing.assert_close(region_std(x, 32), torch.tensor([[[0.0, 2.0]]]))
    ent = region_entropy(x, 32, bins=32, value_range=(-2.2, 2.7))
    # one grey level on the left, two equally frequent levels on the right
    torch.testing.assert_close(ent, torch.tensor([[[0.0, math.log(2)]]]))


def test_entropy_counts_a_uniform_histogram():
    levels = torch.linspace(-2.1, 2.6, 4)  # four bins far apart
    x = levels.repeat_interleave(256).reshape(1, 1, 32, 32).expand(1, 3, 32, 32)
    torch.testing.assert_close(region_entropy(x, 32), torch.tensor([[[math.log(4)]]]))


def test_region_statistics_need_whole_regions():
    with pytest.raises(ValueError, match='multiples of the region size 32'):
        region_std(torch.zeros(1, 3, 40, 64), 32)


def test_label_uniformity_by_hand():
    labels = torch.zeros(1, 4, 6, dtype=torch.long)
    labels[0, :, 2] = 1           # region (0, 1): columns 2-3, half class 1, half class 0
    labels[0, :2, 4:] = 255       # region (0, 2): half unlabelled, the rest class 0
    labels[0, 2:, 4:] = 2
    uni = label_uniformity(labels, 2, num_classes=3)
    # regions of 2x2: row 0 = rows 0-1, row 1 = rows 2-3
    expected = torch.tensor([[[1.0, 0.5, 1.0], [1.0, 0.5, 1.0]]])
    torch.testing.assert_close(uni, expected)


def test_label_uniformity_pads_with_ignore_and_checks_classes():
    labels = torch.ones(1, 3, 3, dtype=torch.long)
    uni = label_uniformity(labels, 2, num_classes=2)
    assert uni.shape == (1, 2, 2) and bool((uni == 1).all())  # padding is ignored
    with pytest.raises(ValueError, match='labels outside'):
        label_uniformity(labels * 5, 2, num_classes=2)


def test_topk_regions_exact_counts_and_order():
    scores = torch.tensor([[[0.1, 0.9], [0.5, 0.3]], [[1.0, 1.0], [1.0, 0.0]]])
    mask = topk_regions(scores, torch.tensor([2, 2]))
    assert mask.tolist() == [[[False, True], [True, False]], [[True, True], [False, False]]]
    assert topk_regions(scores, torch.tensor([0, 4])).flatten(1).sum(1).tolist() == [0, 4]
    with pytest.raises(ValueError, match='counts must lie'):
        topk_regions(scores, torch.tensor([5, 0]))


def test_rate_counts_rounds():
    assert rate_counts(3, 16, 0.5).tolist() == [8, 8, 8]
    assert rate_counts(1, 6, 0.25).tolist() == [2]  # round(1.5) in Python is 2
    with pytest.raises(ValueError, match='coarse_ratio'):
        rate_counts(1, 6, 1.5)


@pytest.mark.parametrize('target', [0.1, 0.35, 0.5, 0.9])
def test_calibration_hits_its_target(target):
    torch.manual_seed(0)
    probs = torch.distributions.Beta(0.5, 2.0).sample((4000,))  # skewed towards 0
    t = calibrate_threshold(probs, target)
    assert abs(float((probs > t).float().mean()) - target) <= 1 / 4000


def test_calibration_checks_target():
    with pytest.raises(ValueError, match='target'):
        calibrate_threshold(torch.rand(10), 1.0)
