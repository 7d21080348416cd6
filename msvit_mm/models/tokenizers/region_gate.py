"""The gate: a small MLP on each coarse region's pixels."""
from typing import Sequence

from torch import Tensor, nn


class RegionGate(nn.Module):
    """MLP ``in_channels * S_c^2 -> hidden... -> 1`` applied to every coarse region.

    With the defaults (3 channels, S_c = 32, hidden (128, 128, 128)) it holds 426,497
    parameters and costs 426,112 MACs per region (0.109 GMACs for the 256 regions of a
    512 x 512 image, 0.3% of a ViT-S/16 encoder's 31.75).

    Shapes: [B, R, in_channels * S_c^2] -> logits [B, R], positive = stay coarse.
    """

    def __init__(self, in_features: int, hidden_dims: Sequence[int] = (128, 128, 128)):
        super().__init__()
        layers, width = [], in_features
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.GELU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, regions: Tensor) -> Tensor:
        return self.mlp(regions).squeeze(-1)
