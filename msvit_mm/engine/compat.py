"""Compatibility fixes for mmengine 0.10.7 on torch >= 2.6, applied on ``import msvit_mm``.

Each fix lives here once, with the upstream issue it works around.
"""
import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader


def load_trusted_local_checkpoint(filename: str, map_location=None) -> dict:
    """Load a local checkpoint file with ``weights_only=False``.

    torch 2.6 switched ``torch.load`` to ``weights_only=True``; mmengine 0.10.7 passes no
    ``weights_only`` and its Runner checkpoints hold ``message_hub`` (``HistoryBuffer``) and
    numpy scalars, so resume, ``load_from`` and testing a trained model fail with
    ``UnpicklingError`` (open-mmlab/mmengine#1602, pytorch/pytorch#137602). This replaces
    mmengine's ``load_from_local`` (prefix ``''``). Full unpickling runs code from the file:
    load only checkpoints you trust, as with any pickle.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    try:
        return torch.load(filename, map_location=map_location, weights_only=False)
    except Exception as err:  # corrupted, truncated or not a torch file
        raise RuntimeError(
            f'cannot read checkpoint {filename!r}: {type(err).__name__}: {err}. '
            'Is it a complete PyTorch checkpoint (not truncated, not a foreign format)?'
        ) from err


CheckpointLoader.register_scheme(prefixes='', loader=load_trusted_local_checkpoint, force=True)
