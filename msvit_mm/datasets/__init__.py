"""Datasets: the ADE20K-layout writer, the embedded synthetic set, checked loading, data checks.

Importing this package registers ``CheckedLoadImageFromFile`` and ``CheckedLoadAnnotations``
in ``mmseg.registry.TRANSFORMS``.
"""
from .ade20k_writer import write_ade20k_set
from .checks import PREPARE_HINT, check_data_root
from .synthetic_ade20k import CLASS_STYLES, class_frequencies, make_synthetic_ade20k, render_scene
from .transforms import CheckedLoadAnnotations, CheckedLoadImageFromFile

__all__ = [
    'PREPARE_HINT', 'check_data_root', 'CLASS_STYLES', 'class_frequencies',
    'make_synthetic_ade20k', 'render_scene', 'write_ade20k_set', 'CheckedLoadAnnotations',
    'CheckedLoadImageFromFile'
]
