"""Stochastic depth for packed tokens: one draw per image, not per token."""
import torch
from torch import Tensor


def packed_drop_path(x: Tensor, drop_prob: float, sample_index: Tensor,
                     num_samples: int) -> Tensor:
    """Drop the residual branch ``x`` [T, C] of whole images, as mmcv's ``DropPath`` on [B, N, C].

    Args:
        x: [T, C] branch output of a packed batch.
        drop_prob: probability of dropping an image's branch.
        sample_index: [T] long, image index of each token.
        num_samples: B.
    """
    if drop_prob == 0.:
        return x
    keep = 1 - drop_prob
    mask = (keep + torch.rand(num_samples, dtype=x.dtype, device=x.device)).floor_()
    return x.div(keep) * mask[sample_index].unsqueeze(-1)
