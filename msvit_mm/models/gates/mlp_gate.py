"""The learned gate: a small MLP on each coarse region's pixels (MSViT's gate)."""
from typing import Optional, Sequence, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...ops.checks import check_int_at_least, check_positive, check_unit_interval
from ...ops.gumbel import gumbel_sigmoid, straight_through
from ...ops.patchify import region_pixels
from .base import BaseGate
from .region_features import NEEDS_PATCH_EMBED, check_region_features, region_features


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
        hidden_dims: hidden widths of the MLP, each a positive integer (empty: one linear
            layer).
        threshold: inference threshold on the probability, in [0, 1]; an attribute, checked
            again when set.
        temperature: Gumbel-sigmoid temperature while training, finite and > 0.
        estimator: ``'straight_through'`` (the gradient of every decision, MSViT's) or
            ``'coarse_only'`` (only decisions that came out coarse pass the task gradient;
            fine ones get only the gate losses'). How they compare: docs/gate_benchmark.md.
        region_features: statistics of each region appended to its pixels as MLP inputs,
            names from ``region_features.REGION_FEATURES`` (``'entropy'``, ``'std'``,
            ``'laplacian'``, ``'subpatch_dissimilarity'``: under the backbone's own patch
            embedding, which the tokenizer passes); empty (the default): pixels only.
    """
    learned = True

    def __init__(self, in_channels: int = 3, region_size: int = 32,
                 hidden_dims: Sequence[int] = (128, 128, 128), threshold: float = 0.5,
                 temperature: float = 1.0, estimator: str = 'straight_through',
                 region_features: Sequence[str] = (), init_cfg=None):
        super().__init__(in_channels, region_size, init_cfg=init_cfg)
        if estimator not in ESTIMATORS:
            raise ValueError(f'MLPGate estimator={estimator!r} is not one of {ESTIMATORS}')
        if isinstance(hidden_dims, (str, bytes)) or not isinstance(hidden_dims, Sequence):
            raise ValueError('MLPGate hidden_dims must be a sequence of positive integers '
                             f'(e.g. (128, 128, 128)), got {hidden_dims!r}')
        hidden_dims = [check_int_at_least('MLPGate hidden_dims entry', h, 1)
                       for h in hidden_dims]
        self.estimator = estimator
        self.region_features = check_region_features('MLPGate', region_features)
        self.uses_patch_embed = any(f in NEEDS_PATCH_EMBED for f in self.region_features)
        self.threshold = threshold
        self.temperature = check_positive('MLPGate temperature', temperature)
        layers = []
        width = self.in_channels * self.region_size ** 2 + len(self.region_features)
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.GELU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    @property
    def threshold(self) -> float:
        """The inference threshold on the probability of staying coarse, in [0, 1]."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = check_unit_interval('MLPGate threshold', value)

    def scores(self, x: Tensor, patch_embed: Optional[nn.Module] = None) -> Tensor:
        grid = self.grid(x)
        inputs = region_pixels(x, self.region_size)  # B, Hc*Wc, C*S_c^2
        if self.region_features:
            stats = region_features(x, self.region_size, self.region_features, patch_embed)
            inputs = torch.cat([inputs, stats.flatten(1, 2)], dim=-1)
        return self.mlp(inputs).reshape(x.shape[0], *grid)

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
                f'temperature={self.temperature}, estimator={self.estimator!r}'
                + (f', region_features={self.region_features!r}' if self.region_features else ''))
