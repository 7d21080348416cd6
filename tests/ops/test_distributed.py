"""gather_with_grad: identity on one process; on 2 gloo processes, the concatenation with the
local gradient only, uneven batch sizes, shape checks, and global-batch gate losses."""
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from msvit_mm.ops.distributed import gather_with_grad
from tests.helpers import assert_close_scaled, free_port

SIZES = (3, 5)  # uneven per-rank batch sizes


def test_identity_without_process_group():
    assert not dist.is_initialized()
    x = torch.rand(4, 2, requires_grad=True)
    out = gather_with_grad(x, scale_grad_by_world_size=True)
    assert out is x


@pytest.mark.parametrize('shape', [(), tuple([1] * 9)])
def test_bad_ndim_raises(shape):
    with pytest.raises(ValueError, match='dims'):
        gather_with_grad(torch.zeros(shape))


def _check_gather(rank: int, full: torch.Tensor) -> None:
    start, n = sum(SIZES[:rank]), SIZES[rank]
    weights = torch.arange(full.numel(), dtype=full.dtype).reshape(full.shape) + 1
    for scale in (False, True):
        x = full[start:start + n].clone().requires_grad_()
        out = gather_with_grad(x, scale_grad_by_world_size=scale)
        assert torch.equal(out.detach(), full)
        (out * weights).sum().backward()
        expected = weights[start:start + n] * (len(SIZES) if scale else 1)
        assert torch.equal(x.grad, expected)  # only the local slice, nothing summed in


def _check_losses(rank: int, full: torch.Tensor) -> None:
    from msvit_mm.models.losses import (BatchShapingLoss, GeneralizedBatchShapingLoss,
                                        TargetRateLoss)
    from tests.models.helpers import gate_input
    start, n = sum(SIZES[:rank]), SIZES[rank]
    for cls in (BatchShapingLoss, GeneralizedBatchShapingLoss, TargetRateLoss):
        kwargs = dict(grid_size=tuple(full.shape[1:])) if cls is GeneralizedBatchShapingLoss else {}
        single, distributed = cls(gather=False, **kwargs), cls(gather=True, **kwargs)
        ref_x = full.clone().requires_grad_()
        ref = single(gate_input(ref_x))
        ref.backward()
        x = full[start:start + n].clone().requires_grad_()
        loss = distributed(gate_input(x))
        loss.backward()
        assert_close_scaled(loss, ref, rel=1e-6)
        # DDP averages over ranks: W * local slice of the global gradient averages to it
        assert_close_scaled(x.grad, len(SIZES) * ref_x.grad[start:start + n], rel=1e-6)
        for p_ref, p in zip(single.parameters(), distributed.parameters()):
            assert_close_scaled(p.grad, p_ref.grad, rel=1e-6)


def _check_shape_mismatch(rank: int) -> None:
    for shape in ([(2, 3), (2, 4)], [(2, 3), (2, 3, 1)]):
        with pytest.raises(ValueError, match='differ'):
            gather_with_grad(torch.zeros(shape[rank]))


def _worker(rank: int, port: int, full: torch.Tensor) -> None:
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=len(SIZES))
    try:
        torch.set_num_threads(1)
        _check_gather(rank, full)
        _check_losses(rank, full)
        _check_shape_mismatch(rank)
    finally:
        dist.destroy_process_group()


def test_two_processes_gloo():
    g = torch.Generator().manual_seed(0)
    full = torch.rand(sum(SIZES), 4, 6, generator=g) * 0.98 + 0.01  # gate probs [B, Hc, Wc]
    mp.spawn(_worker, args=(free_port(), full), nprocs=len(SIZES), join=True)
