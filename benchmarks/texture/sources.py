"""The texture sources: real photographs that ship inside the scikit-image and scikit-learn wheels.

Only files that a plain ``pip install scikit-image scikit-learn`` puts on disk are used (many
of ``skimage.data``'s data sets are fetched by pooch on first use; none of those is here).
Nothing is downloaded. The things are colour photos of one object each, with the object's box
(v3: the grey photos camera, coins and the astronaut portrait are no longer used, their
objects were not learned). One ADE20K class per photo; the ADE20K ids are 1-based as stored in
the label png (mmseg's class index is id - 1, names as in ``ADE20KDataset.METAINFO``).
"""
import functools
import os.path as osp
from typing import Dict, NamedTuple, Optional, Tuple

import numpy as np

from msvit_mm.datasets.wheel_photos import package_dir, read_photo  # noqa: F401


class Source(NamedTuple):
    ade_id: int    # 0 = unlabelled clutter (ignored after reduce_zero_label)
    name: str      # the ADE20K class name (mmseg's ADE20KDataset.METAINFO['classes'][id - 1])
    package: str   # the package whose wheel holds the file
    path: str      # the file, relative to the package folder
    role: str      # 'stuff' (Voronoi cells), 'thing' (blobs) or 'clutter' (label 0)
    box: Optional[Tuple[int, int, int, int]] = None  # a thing's object (top, left, bottom,
    #                                                  right) in photo px; crops centre on it


SOURCES: Tuple[Source, ...] = (
    Source(1, 'wall', 'skimage', 'data/brick.png', 'stuff'),
    Source(2, 'building', 'sklearn', 'datasets/images/china.jpg', 'stuff'),
    Source(3, 'sky', 'skimage', 'data/hubble_deep_field.jpg', 'stuff'),
    Source(10, 'grass', 'skimage', 'data/grass.png', 'stuff'),
    Source(14, 'earth', 'skimage', 'data/gravel.png', 'stuff'),
    Source(29, 'rug', 'skimage', 'data/ihc.png', 'stuff'),
    Source(35, 'rock', 'skimage', 'data/moon.png', 'stuff'),
    Source(67, 'flower', 'sklearn', 'datasets/images/flower.jpg', 'thing', (70, 160, 370, 460)),
    Source(85, 'tower', 'skimage', 'data/rocket.jpg', 'thing', (127, 170, 427, 470)),
    Source(117, 'minibike', 'skimage', 'data/motorcycle_left.png', 'thing', (0, 130, 500, 630)),
    Source(120, 'ball', 'skimage', 'data/retina.jpg', 'thing', (0, 0, 1411, 1411)),
    Source(121, 'food', 'skimage', 'data/coffee.png', 'thing', (0, 60, 400, 460)),
    Source(127, 'animal', 'skimage', 'data/chelsea.png', 'thing', (0, 100, 300, 400)),
    Source(0, 'other', 'skimage', 'data/text.png', 'clutter'),
)
TEXTURE_CLASSES: Dict[int, str] = {s.ade_id: s.name for s in SOURCES if s.ade_id > 0}
STUFF_IDS: Tuple[int, ...] = tuple(s.ade_id for s in SOURCES if s.role == 'stuff')
THING_IDS: Tuple[int, ...] = tuple(s.ade_id for s in SOURCES if s.role == 'thing')
CLUTTER_ID = 0
OBJECT_BOXES: Dict[int, Tuple[int, int, int, int]] = {
    s.ade_id: s.box for s in SOURCES if s.box is not None}


def source_path(source: Source) -> str:
    return osp.join(package_dir(source.package), source.path)


@functools.lru_cache(maxsize=1)
def load_photos() -> Dict[int, np.ndarray]:
    """Every source's photo by ADE20K id (0 = the clutter photo); read once, read-only."""
    return {s.ade_id: read_photo(source_path(s)) for s in SOURCES}
