"""MSViT image classification with mmpretrain (needs mmpretrain and torchvision).

Imported by classification configs through
``custom_imports=dict(imports=['msvit_mm.classification'], allow_failed_imports=False)``,
never by ``import msvit_mm`` (the segmentation path needs neither package). Registers in
mmpretrain's ``MODELS``: the backbone ``MSViTCls`` and the classifier
``MSViTImageClassifier``; importing it also registers the segmentation parts (gates,
tokenizer, losses) in mmseg's registries, where ``MSViTCls`` builds them.
"""
import msvit_mm  # noqa: F401  (registers the gates, tokenizer and losses in mmseg's MODELS)

from .backbone import MSViTCls
from .classifier import MSViTImageClassifier

__all__ = ['MSViTCls', 'MSViTImageClassifier']
