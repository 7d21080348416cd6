"""The learned gate: a small MLP on each coarse region's pixels (MSViT's gate)."""
from typing import Sequence, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...ops.gumbel import gumbel_sigmoid, straight_through
from ...ops.patchify import region_pixels
from .base import BaseGate


ESTIMATORS = ('straight_through', 'coarse_only')


@MODELS.register_module()
class MLPGate(BaseGate):
    """MLP ``in_channels * S_c^2 -> hidden... -> 1`` on every region; positive = stay coarse.

    Training: ``m = GumbelSigmoid(logit, temperature)``, hard decision ``m > 1/2``,
    straight-through weight (value hard, gradient of m). Inference: ``sigmoid(logit) >
    threshold`` (no noise; ``threshold`` is an attribute, so it can be set at test time,
    e.g. from ``tools/analysis_tools/calibrate_gate.py``).

    With the defaults (3 channels, S_c = 32, hidden (128, 128, 128)) it holds 426,497
    parameters and costs 426,112 MACs per region (0.109 GMACs for the 256 regions of a
    512 x 512 image, 0.3% of a ViT-S/16 encoder's 31.75).

    Args:
        hidden_dims: hidden widths of the MLP.
        threshold: inference threshold on the probability, in [0, 1].
        temperature: Gumbel-sigmoid temperature while training, > 0.
        estimator: ``'straight_through'`` (the gradient of every decision, MSViT's) or
            ``'coarse_only'`` (only decisions that came out coarse pass the task gradient;
            fine ones get only the gate losses'). The linearization behind the
            straight-through gradient is informative where a region is coarse (the task
            gradient there says how much the fine tokens would help) and close to noise
            where it is fine, because a loss gradient taken at the fine output says little
            about what the coarse token would lose (measured: docs/gate_benchmark.md).
    """
    learned = True

    def __init__(self, in_channels: int = 3, region_size: int = 32,
                 hidden_dims: Sequence[int] = (128, 128, 128), threshold: float = 0.5,
                 temperature: float = 1.0, estimator: str = 'straight_through',
                 init_cfg=None):
        super().__init__(in_channels, region_size, init_cfg=init_cfg)
        if estimator not in ESTIMATORS:
            raise ValueError(f'estimator={estimator!r} is not one of {ESTIMATORS}')
        self.estimator = estimator
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f'gate threshold={threshold} must lie in [0, 1]')
        if not temperature > 0:
            raise ValueError(f'gumbel temperature={temperature} must be > 0')
        self.threshold = float(threshold)
        self.temperature = float(temperature)
        layers, width = [], in_channels * region_size ** 2
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.GELU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def scores(self, x: Tensor) -> Tensor:
        grid = self.grid(x)
        return self.mlp(region_pixels(x, self.region_size)).reshape(x.shape[0], *grid)

    def decide(self, scores: Tensor) -> Tuple[Tensor, Tensor]:
        if self.training:
            soft = gumbel_sigmoid(scores, self.temperature)
            hard = soft > 0.5
            if self.estimator == 'coarse_only':
                soft = torch.where(hard, soft, soft.detach())
            return hard, straight_through(soft, hard)
        hard = torch.sigmoid(scores) > self.threshold
        return hard, hard.to(scores.dtype)

    def forced_weight(self, scores: Tensor, mask: Tensor) -> Tensor:
        return straight_through(torch.sigmoid(scores), mask)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, threshold={self.threshold}, '
                f'temperature={self.temperature}, estimator={self.estimator!r}')
