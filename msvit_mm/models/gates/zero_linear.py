"""A linear layer that starts at zero and keeps that start through the backbone's init."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ZeroLinear(nn.Module):
    """``y = x W^T + b`` with ``W`` [out, in] and ``b`` [out] initialized to zeros.

    Not an ``nn.Linear`` on purpose: mmseg's ``VisionTransformer.init_weights`` re-draws the
    weights of every ``nn.Linear`` in the backbone (trunc-normal), which would undo the zero
    start that makes a residual branch leave the model unchanged at initialization.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: Tensor) -> Tensor:
        """[..., in_features] -> [..., out_features]."""
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f'in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}'
