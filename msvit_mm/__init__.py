"""msvit-mm: MSViT mixed-scale tokenization for MMSegmentation 1.x.

``import msvit_mm`` registers every module into mmseg's registries and installs the
compatibility fixes in :mod:`msvit_mm.engine.compat` (checkpoint loading on torch >= 2.6).
"""
from .version import __version__
from .engine import compat  # noqa: F401  (side effect: tensors-only local checkpoint loader)
from . import datasets, engine, models  # noqa: F401  (side effect: registration)

__all__ = ['__version__']
