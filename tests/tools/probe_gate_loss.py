"""Test probe, loaded with custom_imports in a training subprocess: records, per rank, the
local and the gathered batch size the gate losses compute their ECDF over."""
import os

import torch.distributed as dist

from msvit_mm.models.losses import gate_losses

_prepare = gate_losses._prepare


def _recording_prepare(gate_probs, gather):
    out = _prepare(gate_probs, gather)
    rank = dist.get_rank() if dist.is_initialized() else 0
    with open(f"{os.environ['MSVIT_PROBE_FILE']}.{rank}", 'a') as f:
        f.write(f'{gate_probs.shape[0]} {out.shape[0]}\n')
    return out


gate_losses._prepare = _recording_prepare
