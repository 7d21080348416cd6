"""All-gather along the batch dimension that keeps the gradient of the local part.

With 1-2 images per GPU the empirical CDF of the batch-shaping losses is very noisy, so the
losses gather the gate outputs of all ranks first. ``torch.distributed.all_gather`` returns
tensors with no autograd history; here the local rank's slice is replaced by the local tensor
itself, so the gradient reaches the local input (and only it). Pure torch, no mmseg import.
"""
from typing import List, Optional, Tuple

import torch
import torch.distributed as dist
from torch import Tensor

_MAX_DIMS = 8


def world_info(group: Optional[dist.ProcessGroup] = None) -> Tuple[int, int]:
    """``(world_size, rank)`` of ``group``; ``(1, 0)`` when torch.distributed is not in use."""
    if not (dist.is_available() and dist.is_initialized()):
        return 1, 0
    return dist.get_world_size(group), dist.get_rank(group)


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the backward multiplies the gradient by ``scale``."""

    @staticmethod
    def forward(ctx, x: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad * ctx.scale, None


def gather_with_grad(x: Tensor, scale_grad_by_world_size: bool = False,
                     group: Optional[dist.ProcessGroup] = None) -> Tensor:
    """Concatenate ``x`` of all ranks along dim 0, rank order, the local slice keeping its grad.

    Ranks may hold different sizes along dim 0 (padded for the collective, then trimmed);
    all other dims must agree. The identity when torch.distributed is not initialized or the
    world size is 1. Every rank of ``group`` must call it (it is a collective).

    Args:
        x: [n_r, *S], ``n_r`` may differ per rank, ``S`` may not; at most 8 dims.
        scale_grad_by_world_size: multiply the gradient reaching ``x`` by the world size.
            When every rank computes the same loss of the gathered batch and DDP then
            averages the gradients over ranks, this makes the update equal to the gradient
            of that loss on one process holding the whole batch (without it, W times smaller).
        group: process group, default the global one.

    Returns:
        [sum_r n_r, *S]: other ranks' parts detached, the local part differentiable.

    Raises:
        ValueError: if ``x`` is 0-D or has more than 8 dims, or the ranks' shapes beyond
            dim 0 (or their numbers of dims) differ; raised on every rank alike.
    """
    if x.dim() == 0 or x.dim() > _MAX_DIMS:
        raise ValueError(f'gather_with_grad needs a tensor with 1 to {_MAX_DIMS} dims, '
                         f'got shape {tuple(x.shape)}')
    world, rank = world_info(group)
    if world == 1:
        return x
    sizes = _gather_sizes(x, world, group)
    buffers = _gather_padded(x.detach(), sizes, world, group)
    local = _ScaleGrad.apply(x, float(world)) if scale_grad_by_world_size else x
    parts = [local if r == rank else buf[:sizes[r]] for r, buf in enumerate(buffers)]
    return torch.cat(parts, dim=0)


def _gather_sizes(x: Tensor, world: int, group: Optional[dist.ProcessGroup]) -> List[int]:
    """All ranks' dim-0 sizes; ValueError (on every rank alike) if the other dims differ."""
    shape = torch.full((_MAX_DIMS + 1,), -1, dtype=torch.long, device=x.device)
    shape[0] = x.dim()
    shape[1:x.dim() + 1] = torch.tensor(x.shape, dtype=torch.long)
    shapes = [torch.empty_like(shape) for _ in range(world)]
    dist.all_gather(shapes, shape, group=group)
    shapes = [s.tolist() for s in shapes]
    shapes = [tuple(s[1:s[0] + 1]) for s in shapes]
    if any(s[1:] != shapes[0][1:] for s in shapes):
        raise ValueError('gather_with_grad: the ranks\' shapes beyond dim 0 differ: '
                         + ', '.join(f'rank {r}: {s}' for r, s in enumerate(shapes)))
    return [s[0] for s in shapes]


def _gather_padded(x: Tensor, sizes: List[int], world: int,
                   group: Optional[dist.ProcessGroup]) -> List[Tensor]:
    """all_gather of ``x`` zero-padded along dim 0 to the largest size: ``world`` tensors."""
    padded = x.new_zeros((max(sizes),) + tuple(x.shape[1:]))
    padded[:x.shape[0]] = x
    buffers = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(buffers, padded, group=group)
    return buffers
