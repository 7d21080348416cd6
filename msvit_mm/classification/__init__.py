"""MSViT image classification with mmpretrain (needs mmpretrain and torchvision).

Imported by classification configs through
``custom_imports=dict(imports=['msvit_mm.classification'], allow_failed_imports=False)``,
never by ``import msvit_mm`` (the segmentation path needs neither package). Registers in
mmpretrain's ``MODELS``: the backbone ``MSViTCls`` and the classifier
``MSViTImageClassifier``, plus the project's hooks, loops and checked image loader
(``registration``); importing it also registers the segmentation parts (gates,
tokenizer, losses) in mmseg's registries, where ``MSViTCls`` builds them.
"""
import msvit_mm  # noqa: F401  (registers the gates, tokenizer and losses in mmseg's MODELS)

from .backbone import MSViTCls
from .classifier import MSViTImageClassifier
from .registration import register_shared

register_shared()  # the project's hooks, loops and checked image loader, for mmpretrain configs

__all__ = ['MSViTCls', 'MSViTImageClassifier']
