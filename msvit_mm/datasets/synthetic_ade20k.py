"""A small synthetic segmentation set in the ADE20K layout, made from a seed.

No package ships ADE20K, so the tests and the CPU demo use generated scenes that mmseg's own
``ADE20KDataset`` reads unchanged (``reduce_zero_label=True``)::

    {root}/ADEChallengeData2016/images/{training,validation}/ADE_{train,val}_%08d.jpg
    {root}/ADEChallengeData2016/annotations/{training,validation}/ADE_{train,val}_%08d.png
    {root}/ADEChallengeData2016/synthetic_meta.json   (parameters + the files written)

The default root is ``data/synthetic_ade``, not mmseg's ``data/ade`` where the real ADE20K
goes. The generator never deletes, overwrites or mixes in a file it did not write: the meta
file lists what it wrote, and a root holding other .jpg/.png files is refused.

Labels are uint8 ADE20K ids: 0 = "other" (ignored after ``reduce_zero_label``), 1..150 the
classes; only the 12 ids of :data:`CLASS_STYLES` occur. A scene is two or three large smooth
"stuff" regions (wall/floor indoors, sky over road and/or grass outdoors) with a wavy
boundary and low-frequency shading, plus 3-7 small "thing" objects (discs, ellipses,
rectangles, triangles, blobs; 6-40 px at 128 px, scaled with the image) painted with a
two-colour high-frequency texture (1-2 px stripes, checkers, rings, dots). Some things share
their mean colour with a stuff class (box/floor, painting/road, bottle/grass) and differ only in
a texture that a 2x2 average pool erases, so a good gate keeps them fine. Colours are RGB here;
the jpg files are written through OpenCV (BGR), as mmcv reads them.

Every image has its own random stream, ``default_rng([seed, split, index])``: the files are a
function of the seed (byte-identical on one machine) and do not depend on the set sizes.
"""
import os
import os.path as osp
from typing import Dict, Sequence, Tuple

import numpy as np

from .ade20k_writer import SUBDIR, write_ade20k_set
from .painting import MIN_SCENE_SIZE, ClassStyle, object_centre, paint, shading, shape_mask

__all__ = ['CLASS_STYLES', 'CLASS_NAMES', 'render_scene', 'make_synthetic_ade20k',
           'class_frequencies']

DEFAULT_ROOT = 'data/synthetic_ade'

# ADE20K ids as stored in the label png (1-based; mmseg's class index is id - 1).
STUFF_IDS = (1, 3, 4, 7, 10)
THING_IDS = (13, 21, 23, 37, 42, 67, 99)
CLASS_STYLES: Dict[int, ClassStyle] = {
    1: ClassStyle('wall', (200, 190, 170), (200, 190, 170), 'smooth'),
    3: ClassStyle('sky', (125, 175, 235), (125, 175, 235), 'smooth'),
    4: ClassStyle('floor', (150, 105, 65), (150, 105, 65), 'smooth'),
    7: ClassStyle('road', (125, 125, 130), (125, 125, 130), 'smooth'),
    10: ClassStyle('grass', (75, 145, 55), (75, 145, 55), 'smooth'),
    13: ClassStyle('person', (235, 185, 150), (150, 90, 70), 'hstripes2'),
    21: ClassStyle('car', (215, 35, 35), (120, 10, 20), 'vstripes4'),
    23: ClassStyle('painting', (235, 205, 50), (20, 50, 210), 'checker1'),
    37: ClassStyle('lamp', (250, 235, 120), (200, 140, 20), 'rings4'),
    42: ClassStyle('box', (185, 130, 80), (115, 80, 50), 'diag4'),
    67: ClassStyle('flower', (170, 40, 150), (255, 150, 240), 'dots'),
    99: ClassStyle('bottle', (40, 200, 70), (110, 90, 40), 'vstripes2'),
}
CLUTTER_PROB = 0.08        # chance that an object is unlabelled clutter (label 0, ignored)
NOISE_STD = 3.0
CLASS_NAMES: Dict[int, str] = {k: v.name for k, v in sorted(CLASS_STYLES.items())}


def render_scene(rng: np.random.Generator, size: Tuple[int, int] = (128, 128)
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Draw one scene.

    Args:
        rng: the scene's random stream (consumed).
        size: (H, W) in pixels.

    Returns:
        ``image`` [H, W, 3] uint8 RGB and ``label`` [H, W] uint8 ADE20K ids (0 = other).
    """
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    indoor = rng.random() < 0.5
    top, bottom = (1, 4) if indoor else (3, int(rng.choice([7, 10])))
    horizon = h * rng.uniform(0.3, 0.65) + h * rng.uniform(0, 0.06) * np.sin(
        2 * np.pi * (xx / w * rng.uniform(0.5, 1.5) + rng.uniform()))
    label = np.where(yy < horizon, top, bottom).astype(np.uint8)
    if not indoor and rng.random() < 0.5:  # road and grass side by side, slanted border
        split = w * rng.uniform(0.3, 0.7) + (yy - h) * rng.uniform(-0.5, 0.5)
        label[(yy >= horizon) & (xx > split)] = 10 if bottom == 7 else 7
    image = np.zeros((h, w, 3), np.float32)
    for cid in np.unique(label):
        region = label == cid
        pix = paint(CLASS_STYLES[int(cid)], rng, yy, xx, (0, 0), 12) * shading(rng, yy, xx)
        image[region] = pix[region]

    for _ in range(rng.integers(3, 8)):
        extent, centre = object_centre(rng, (h, w))
        mask = shape_mask(rng, yy, xx, centre, extent)
        if rng.random() < CLUTTER_PROB:
            cid = 0
            style = ClassStyle('other', tuple(rng.integers(0, 256, 3)),
                               tuple(rng.integers(0, 256, 3)), 'dots')
        else:
            cid = int(rng.choice(THING_IDS))
            style = CLASS_STYLES[cid]
        image[mask] = paint(style, rng, yy, xx, centre, 10)[mask]
        label[mask] = cid
    image += rng.normal(0, NOISE_STD, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), label


def make_synthetic_ade20k(root: str = DEFAULT_ROOT, num_train: int = 240, num_val: int = 60,
                          size: Sequence[int] = (128, 128), seed: int = 0,
                          overwrite: bool = False) -> dict:
    """Write the quick-start set under ``{root}/ADEChallengeData2016`` (idempotent).

    :func:`render_scene` through :func:`msvit_mm.datasets.ade20k_writer.write_ade20k_set`.

    Args:
        root: the folder that holds ``ADEChallengeData2016`` (default ``data/synthetic_ade``;
            mmseg's ``data/ade`` is where the real ADE20K goes).
        num_train, num_val: images in ``training`` and ``validation``.
        size: (H, W) of every image, each at least ``painting.MIN_SCENE_SIZE`` (4).
        seed: the set's seed; another seed gives other scenes.
        overwrite: replace a set this generator made with other parameters. Only the files
            listed in its meta file are deleted; other files are never touched.

    Returns:
        dict with ``data_root``, ``num_train``, ``num_val``, ``size``, ``seed``, ``written``
        (False when a complete set with the same parameters was already there) and ``classes``
        (ADE20K id -> name).

    Raises:
        ValueError: a count below 0 or a size below the minimum (nothing is written).
        FileExistsError: the split folders hold .jpg/.png files this generator did not write
            (whatever ``overwrite``), or another synthetic set and ``overwrite`` is off.
    """
    return write_ade20k_set(root, render_scene, CLASS_NAMES, 'demo', num_train, num_val, size,
                            seed, overwrite=overwrite, min_size=MIN_SCENE_SIZE)


def class_frequencies(root: str, split: str = 'validation') -> Dict[int, int]:
    """Pixel count of every raw label id (0 = other) over one split's label files.

    ``root`` is the folder holding ``ADEChallengeData2016`` (as for
    :func:`make_synthetic_ade20k`). Useful for the majority-class baseline: after
    ``reduce_zero_label`` a model that predicts the most frequent class everywhere scores
    IoU = its pixel share on that class and 0 on the others.
    """
    import cv2

    seg_dir = osp.join(root, SUBDIR, 'annotations', split)
    if not osp.isdir(seg_dir):
        raise FileNotFoundError(f'no label folder {seg_dir}')
    counts = np.zeros(256, np.int64)
    for name in sorted(os.listdir(seg_dir)):
        if name.endswith('.png'):
            label = cv2.imread(osp.join(seg_dir, name), cv2.IMREAD_UNCHANGED)
            if label is None:
                raise OSError(f'cannot read label file {osp.join(seg_dir, name)}')
            counts += np.bincount(label.ravel(), minlength=256)
    return {int(i): int(c) for i, c in enumerate(counts) if c}

