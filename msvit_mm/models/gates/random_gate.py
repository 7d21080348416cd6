"""A random gate: each region coarse with a fixed probability (the chance baseline)."""
from typing import Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor

from ...ops.checks import check_unit_interval
from .base import BaseGate


@MODELS.register_module()
class RandomGate(BaseGate):
    """Each region is coarse with probability ``coarse_ratio``, independently, at every call.

    Draws from the global CPU generator, so a seeded run repeats whatever the device.
    Scores are zeros; no parameters.
    """

    def __init__(self, coarse_ratio: float = 0.5, in_channels: int = 3, region_size: int = 32,
                 init_cfg=None):
        super().__init__(in_channels, region_size, init_cfg=init_cfg)
        self.coarse_ratio = check_unit_interval('RandomGate coarse_ratio', coarse_ratio)

    def scores(self, x: Tensor) -> Tensor:
        return x.new_zeros((x.shape[0],) + self.grid(x))

    def decide(self, scores: Tensor) -> Tuple[Tensor, Tensor]:
        hard = (torch.rand(scores.shape, device='cpu') < self.coarse_ratio).to(scores.device)
        return hard, hard.to(scores.dtype)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, coarse_ratio={self.coarse_ratio}'
