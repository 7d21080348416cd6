"""Forced gates: every region fine (ViT/16) or every region coarse (ViT/32)."""
from typing import Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor

from .base import BaseGate


@MODELS.register_module()
class FixedGate(BaseGate):
    """The same decision for every region: ``coarse=False`` is a plain ViT at the fine
    patch size, ``coarse=True`` a ViT at the coarse size on the pooled image.

    Scores are zeros; the gate has no parameters.
    """

    def __init__(self, coarse: bool = False, in_channels: int = 3, region_size: int = 32,
                 init_cfg=None):
        super().__init__(in_channels, region_size, init_cfg=init_cfg)
        if not isinstance(coarse, bool):
            raise ValueError(f'FixedGate coarse must be True (every region coarse) or False '
                             f'(every region fine), got {coarse!r}')
        self.coarse = coarse

    def scores(self, x: Tensor) -> Tensor:
        return x.new_zeros((x.shape[0],) + self.grid(x))

    def decide(self, scores: Tensor) -> Tuple[Tensor, Tensor]:
        fill = torch.ones_like if self.coarse else torch.zeros_like
        hard = fill(scores, dtype=torch.bool)  # traceable (full_like with a bool is not)
        return hard, hard.to(scores.dtype)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, coarse={self.coarse}'
