"""Compatibility fixes for mmengine 0.10.7 on torch >= 2.6, applied on ``import msvit_mm``.

Each fix lives here once, with the upstream issue it works around.

torch 2.6 switched ``torch.load`` to ``weights_only=True``; mmengine 0.10.7 passes no
``weights_only`` and its Runner checkpoints hold ``message_hub`` (``HistoryBuffer``) and numpy
scalars, so resume, ``load_from`` and testing a trained model fail with ``UnpicklingError``
(open-mmlab/mmengine#1602, pytorch/pytorch#137602). Our loader for local paths (prefix ``''``)
allows exactly those types and nothing that runs code (``msvit_mm.engine.checkpoints``).
"""
from mmengine.runner.checkpoint import CheckpointLoader

from .checkpoints import load_checkpoint_file

CheckpointLoader.register_scheme(prefixes='', loader=load_checkpoint_file, force=True)
