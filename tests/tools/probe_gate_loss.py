"""Test probe, loaded with custom_imports in a training subprocess: records, per rank, the
local and the gathered batch size the gate losses compute their ECDF over."""
import os

import torch.distributed as dist

from msvit_mm.models.losses.base import BaseGateLoss

_prepare = BaseGateLoss.prepare


def _recording_prepare(self, gate_probs):
    out = _prepare(self, gate_probs)
    rank = dist.get_rank() if dist.is_initialized() else 0
    with open(f"{os.environ['MSVIT_PROBE_FILE']}.{rank}", 'a') as f:
        f.write(f'{gate_probs.shape[0]} {out.shape[0]}\n')
    return out


BaseGateLoss.prepare = _recording_prepare
