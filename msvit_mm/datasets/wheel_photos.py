"""Real photographs shipped inside installed wheels (scikit-image, scikit-learn), read checked.

Only files that a plain ``pip install scikit-image scikit-learn`` puts on disk are read (many
of ``skimage.data``'s data sets are fetched by pooch on first use; none of those is used).
Nothing is downloaded and the packages are not imported: their folders are located.
"""
import importlib.util
import os.path as osp

import numpy as np

__all__ = ['package_dir', 'read_photo', 'wheel_photo']

PIP_NAMES = {'skimage': 'scikit-image', 'sklearn': 'scikit-learn'}


def package_dir(package: str) -> str:
    """The installed folder of ``package`` (not imported); a clear error if it is missing."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f'the embedded photos come with {package!r}, which is not installed: '
            f'pip install {PIP_NAMES.get(package, package)}')
    return list(spec.submodule_search_locations)[0]


def read_photo(path: str) -> np.ndarray:
    """[H, W, 3] uint8 RGB (grey photos repeated over the channels, alpha dropped), read-only."""
    import cv2

    if not osp.isfile(path):
        raise FileNotFoundError(f'photo {path} is missing (reinstall the package that ships it)')
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f'{path}: not a readable image')
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    rgb.setflags(write=False)
    return rgb


def wheel_photo(package: str, path: str) -> np.ndarray:
    """:func:`read_photo` of ``path`` relative to ``package``'s installed folder."""
    return read_photo(osp.join(package_dir(package), path))
