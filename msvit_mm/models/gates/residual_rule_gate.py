"""A learned gate that starts as the low-detail rule: rule score plus a zero-initialized MLP."""
from typing import Sequence, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...ops.checks import check_int_at_least, check_positive
from ...ops.patchify import region_pixels
from ...ops.region_scores import region_entropy, region_std
from .mlp_gate import MLPGate
from .pixel_stat_gate import STATISTICS, check_value_range
from .zero_linear import ZeroLinear


def standardize_per_image(scores: Tensor, eps: float = 1e-6) -> Tensor:
    """[B, Hc, Wc] -> the same, minus each image's mean, over its std (+ ``eps``).

    An increasing affine map per image, so each image's ranking (and its ties) is kept.
    """
    flat = scores.flatten(1)
    mean = flat.mean(1).view(-1, 1, 1)
    std = flat.std(1, unbiased=False).view(-1, 1, 1)
    return (scores - mean) / (std + eps)


@MODELS.register_module()
class ResidualRuleGate(MLPGate):
    """``logit = scale * standardized(-statistic) + correction(pixels)``; positive = coarse.

    The rule term is :class:`PixelStatGate`'s score (negated grey-level entropy or pixel
    std), standardized per image (mean 0, std 1 over the image's regions) and multiplied by
    a learned ``scale`` (initialized to ``rule_scale``). The correction is an MLP on the
    region's pixels like :class:`MLPGate`'s whose last layer starts at zero, so at
    initialization the logits are the rule's scores up to an increasing map per image: at any
    per-image coarse count the gate picks exactly the rule's regions. Training, inference and
    the threshold are :class:`MLPGate`'s.

    Args:
        statistic: ``'entropy'`` (the default) or ``'std'``, as :class:`PixelStatGate`.
        rule_scale: initial ``scale``, finite and > 0.
        bins, value_range: the entropy histogram, as :class:`PixelStatGate`.
        hidden_dims, threshold, temperature, estimator: as :class:`MLPGate` (the correction).
    """

    def __init__(self, in_channels: int = 3, region_size: int = 32, statistic: str = 'entropy',
                 rule_scale: float = 2.0, bins: int = 32,
                 value_range: Tuple[float, float] = (-2.2, 2.7),
                 hidden_dims: Sequence[int] = (128, 128, 128), threshold: float = 0.5,
                 temperature: float = 1.0, estimator: str = 'straight_through',
                 init_cfg=None):
        super().__init__(in_channels, region_size, hidden_dims=hidden_dims,
                         threshold=threshold, temperature=temperature, estimator=estimator,
                         init_cfg=init_cfg)
        if statistic not in STATISTICS:
            raise ValueError(f'ResidualRuleGate statistic={statistic!r} is not one of '
                             f'{STATISTICS}')
        self.statistic = statistic
        self.bins = check_int_at_least('ResidualRuleGate bins', bins, 2)
        self.value_range = check_value_range(value_range)
        last = self.mlp[-1]
        self.mlp[-1] = ZeroLinear(last.in_features, 1)  # survives the backbone's re-init
        self.scale = nn.Parameter(torch.tensor(
            check_positive('ResidualRuleGate rule_scale', rule_scale)))

    def rule_scores(self, x: Tensor) -> Tensor:
        """[B, C, H, W] -> [B, Hc, Wc]: the rule's score, ``-statistic`` (no gradient)."""
        if self.statistic == 'entropy':
            return -region_entropy(x, self.region_size, self.bins, self.value_range)
        return -region_std(x.detach(), self.region_size)

    def scores(self, x: Tensor) -> Tensor:
        grid = self.grid(x)
        correction = self.mlp(region_pixels(x, self.region_size)).reshape(x.shape[0], *grid)
        return self.scale * standardize_per_image(self.rule_scores(x)) + correction

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, statistic={self.statistic!r}, bins={self.bins}, '
                f'value_range={self.value_range}')
