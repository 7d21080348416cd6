"""Stochastic depth, one draw per image: on batched tokens as mmcv's ``drop_path``, and on
packed tokens, where an image's tokens are rows of one [T, C] tensor.

Both draw ``torch.rand(B)`` once per call, so for the same random state a batched and a
packed batch drop the same images.
"""
import torch
from torch import Tensor


def keep_mask(num_samples: int, drop_prob: float, like: Tensor) -> Tensor:
    """[B] float in {0, 1}, 1 where an image's branch is kept (probability ``1 - drop_prob``);
    ``like``'s dtype and device. The draw of mmcv's ``drop_path``: ``floor(keep + U[0, 1))``."""
    keep = 1 - drop_prob
    return (keep + torch.rand(num_samples, dtype=like.dtype, device=like.device)).floor_()


def batched_drop_path(x: Tensor, drop_prob: float) -> Tensor:
    """Drop the residual branch ``x`` [B, ...] of whole images; mmcv's ``drop_path`` in
    training mode (same values for the same random state). ``drop_prob == 0``: ``x`` itself."""
    if drop_prob == 0.:
        return x
    mask = keep_mask(x.shape[0], drop_prob, x)
    return x.div(1 - drop_prob) * mask.view((-1,) + (1,) * (x.dim() - 1))


def packed_drop_path(x: Tensor, drop_prob: float, sample_index: Tensor,
                     num_samples: int) -> Tensor:
    """Drop the residual branch ``x`` [T, C] of whole images, as mmcv's ``DropPath`` on [B, N, C].

    Args:
        x: [T, C] branch output of a packed batch.
        drop_prob: probability of dropping an image's branch (0: ``x`` itself).
        sample_index: [T] long, image index of each token.
        num_samples: B.
    """
    if drop_prob == 0.:
        return x
    mask = keep_mask(num_samples, drop_prob, x)
    return x.div(1 - drop_prob) * mask[sample_index].unsqueeze(-1)
