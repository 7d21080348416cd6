"""Distributed launch that works on CPU (gloo) as well as on GPUs (NCCL).

mmengine 0.10.7 assumes CUDA when distributed: ``init_dist`` calls
``torch.cuda.set_device`` unconditionally, the Runner hands ``device_ids=[LOCAL_RANK]`` to
DDP (a ValueError for a CPU module), and mmseg's base configs use ``nccl`` and ``SyncBN``
(open-mmlab/mmengine#1191, pytorch/pytorch#56545: SyncBatchNorm needs CUDA). On a machine
without CUDA, :func:`prepare_distributed` initializes the process group with gloo itself (the
Runner then skips its own init), asks DDP for no device ids and turns SyncBN into BN. With
CUDA it changes nothing: mmengine's NCCL path is used as is.
"""
import os

import torch
import torch.distributed as dist
from mmengine.config import Config


def for_each_typed(node, fn) -> None:
    """Call ``fn(d)`` on every dict with a ``'type'`` key inside a config node, recursively."""
    if isinstance(node, dict):
        if 'type' in node:
            fn(node)
        for value in node.values():
            for_each_typed(value, fn)
    elif isinstance(node, (list, tuple)):
        for value in node:
            for_each_typed(value, fn)


def _sync_bn_to_bn(node: dict) -> None:
    if node['type'] == 'SyncBN':
        node['type'] = 'BN'


def _slurm_env() -> None:
    """Fill torch's env:// variables from SLURM's, as mmengine's slurm launcher does."""
    os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
    os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
    os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        import subprocess
        nodes = os.environ['SLURM_NODELIST']
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {nodes} | head -n1')


def prepare_distributed(cfg: Config, launcher: str) -> Config:
    """Make ``cfg`` runnable under ``launcher`` on this machine; returns ``cfg``.

    Only acts when ``launcher != 'none'`` and CUDA is unavailable.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return cfg
    if launcher == 'slurm':
        _slurm_env()
    elif launcher != 'pytorch':
        raise ValueError(f'launcher={launcher!r} is not supported on CPU; use pytorch or slurm')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.update(device_ids=None)
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    for_each_typed(cfg.model, _sync_bn_to_bn)
    return cfg


def finish_distributed() -> None:
    """Wait for every rank, then close the process group, if one is open.

    Without it a gloo rank can abort at interpreter exit ("terminate called without an
    active exception", SIGABRT) after its work is done, and torchrun reports the job failed:
    seen once in 2-process ``tools/dist_test.sh`` runs on CPU.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
