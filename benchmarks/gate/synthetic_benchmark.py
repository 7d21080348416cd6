"""Generated scenes where pixel detail and semantics disagree: the gate benchmark's data.

On the quick-start scenes (``msvit_mm.datasets.synthetic_ade20k.render_scene``) every stuff
region is smooth and every object textured, so "low pixel entropy" is nearly the same as "one
class" and a training-free rule is almost an oracle. Real scenes are not like that, and this
renderer adds what ADE20K has and the quick-start scenes lack:

- **textured stuff that is one class**: grass (dots), foliage (checker), water (stripes),
  carpet (diagonal); a rule sees detail, but the region needs no fine tokens;
- **isoluminant boundaries**: wall / ceiling and road / sidewalk pairs whose colours differ
  but whose grey level (channel mean) is the same, and smooth objects painted in a colour
  of the same grey level as the wall behind them; a grey-level rule sees a flat region,
  but it holds two classes;
- **per-image variation of detail**: from bare scenes (no object) to cluttered ones
  (up to 10 objects), plus the quick-start's textured objects.

Labels are ADE20K ids (0 = other, ignored after ``reduce_zero_label``), as in
:mod:`msvit_mm.datasets.synthetic_ade20k`, whose things (textured objects) are reused; the
sets are written by :func:`msvit_mm.datasets.ade20k_writer.write_ade20k_set` (into
``data/synthetic_bench`` by ``benchmarks/gate/run.py``). Pure numpy.
"""
from typing import Dict, Sequence, Tuple

import numpy as np

from msvit_mm.datasets.ade20k_writer import write_ade20k_set
from msvit_mm.datasets.painting import (MIN_SCENE_SIZE, ClassStyle, object_centre, paint,
                                        shading, shape_mask)
from msvit_mm.datasets.synthetic_ade20k import CLASS_NAMES, CLASS_STYLES, THING_IDS

# ADE20K ids (1-based, as stored in the label png)
WALL, SKY, FLOOR, TREE, CEILING, ROAD, GRASS, SIDEWALK, WATER, PAINTING, RUG = (
    1, 3, 4, 5, 6, 7, 10, 12, 22, 23, 29)
BENCHMARK_STYLES: Dict[int, ClassStyle] = {
    WALL: ClassStyle('wall', (200, 180, 160), (200, 180, 160), 'smooth'),          # sum 540
    CEILING: ClassStyle('ceiling', (160, 190, 190), (160, 190, 190), 'smooth'),    # sum 540
    FLOOR: ClassStyle('floor', (150, 105, 65), (150, 105, 65), 'smooth'),
    RUG: ClassStyle('rug', (150, 60, 60), (205, 165, 95), 'diag4'),
    SKY: ClassStyle('sky', (125, 175, 235), (125, 175, 235), 'smooth'),
    TREE: ClassStyle('tree', (35, 100, 40), (105, 165, 70), 'checker1'),
    GRASS: ClassStyle('grass', (70, 140, 50), (130, 190, 90), 'dots'),
    ROAD: ClassStyle('road', (125, 125, 130), (125, 125, 130), 'smooth'),          # sum 380
    SIDEWALK: ClassStyle('sidewalk', (155, 125, 100), (155, 125, 100), 'smooth'),  # sum 380
    WATER: ClassStyle('water', (40, 90, 150), (95, 150, 200), 'hstripes2'),
}
# a painting as flat as the wall it hangs on, in another hue of the same grey level
FLAT_PAINTING = ClassStyle('painting', (230, 150, 160), (230, 150, 160), 'smooth')  # sum 540
MAX_OBJECTS = 10
DEFAULT_ROOT = 'data/synthetic_bench'
STYLE = 'benchmark'  # the renderer's name in the meta file of a set
BENCHMARK_CLASS_NAMES: Dict[int, str] = dict(sorted(
    {**CLASS_NAMES, **{k: v.name for k, v in BENCHMARK_STYLES.items()},
     PAINTING: FLAT_PAINTING.name}.items()))


def _band(h: int, w: int, yy: np.ndarray, xx: np.ndarray, rng: np.random.Generator,
          low: float, high: float) -> np.ndarray:
    """A wavy horizontal border [H, W] (row of the border in every pixel column)."""
    return h * rng.uniform(low, high) + h * rng.uniform(0, 0.05) * np.sin(
        2 * np.pi * (xx / w * rng.uniform(0.5, 1.5) + rng.uniform()))


def _layout(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Stuff label map [H, W] (uint8 ADE20K ids) of an indoor or outdoor scene."""
    h, w = yy.shape
    if rng.random() < 0.5:  # indoor: (ceiling) / wall / floor with an optional rug
        label = np.where(yy < _band(h, w, yy, xx, rng, 0.45, 0.7), WALL, FLOOR).astype(np.uint8)
        if rng.random() < 0.6:
            label[yy < _band(h, w, yy, xx, rng, 0.1, 0.3)] = CEILING
        if rng.random() < 0.6:
            cy, cx = rng.uniform(0.75, 0.9) * h, rng.uniform(0.3, 0.7) * w
            hy, hx = rng.uniform(0.08, 0.2) * h, rng.uniform(0.2, 0.4) * w
            label[(np.abs(yy - cy) < hy) & (np.abs(xx - cx) < hx) & (label == FLOOR)] = RUG
        return label
    horizon = _band(h, w, yy, xx, rng, 0.25, 0.5)
    ground = int(rng.choice([ROAD, GRASS, WATER]))
    label = np.where(yy < horizon, SKY, ground).astype(np.uint8)
    if rng.random() < 0.5:  # a band of trees on the horizon
        label[(yy >= horizon - h * rng.uniform(0.1, 0.25)) & (yy < horizon)] = TREE
    if ground == ROAD and rng.random() < 0.7:  # sidewalk beside the road, slanted border
        split = w * rng.uniform(0.3, 0.7) + (yy - h) * rng.uniform(-0.5, 0.5)
        label[(label == ROAD) & (xx > split)] = SIDEWALK
    elif ground != ROAD and rng.random() < 0.4:
        split = w * rng.uniform(0.3, 0.7) + (yy - h) * rng.uniform(-0.5, 0.5)
        label[(label == ground) & (xx > split)] = GRASS if ground == WATER else WATER
    return label


def render_benchmark_scene(rng: np.random.Generator, size: Tuple[int, int] = (128, 128)
                           ) -> Tuple[np.ndarray, np.ndarray]:
    """Draw one benchmark scene.

    Args:
        rng: the scene's random stream (consumed).
        size: (H, W) in pixels.

    Returns:
        ``image`` [H, W, 3] uint8 RGB and ``label`` [H, W] uint8 ADE20K ids (0 = other).
    """
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    label = _layout(rng, yy, xx)
    image = np.zeros((h, w, 3), np.float32)
    shade = shading(rng, yy, xx)  # one light for the scene: isoluminant pairs stay so
    for cid in np.unique(label):
        region = label == cid
        pix = paint(BENCHMARK_STYLES[int(cid)], rng, yy, xx, (0, 0), 6) * shade
        image[region] = pix[region]
    for _ in range(rng.integers(0, MAX_OBJECTS + 1)):
        extent, centre = object_centre(rng, (h, w))
        mask = shape_mask(rng, yy, xx, centre, extent)
        on_wall = label[int(centre[0]), int(centre[1])] == WALL
        if on_wall and rng.random() < 0.6:
            cid, style = PAINTING, FLAT_PAINTING
        else:
            cid = int(rng.choice(THING_IDS))
            style = CLASS_STYLES[cid]
        image[mask] = paint(style, rng, yy, xx, centre, 6)[mask]
        label[mask] = cid
    image += rng.normal(0, 3.0, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), label


def make_synthetic_benchmark(root: str = DEFAULT_ROOT, num_train: int = 480, num_val: int = 120,
                             size: Sequence[int] = (128, 128), seed: int = 0,
                             overwrite: bool = False) -> dict:
    """Write the benchmark scenes under ``{root}/ADEChallengeData2016`` (idempotent).

    :func:`render_benchmark_scene` through
    :func:`msvit_mm.datasets.ade20k_writer.write_ade20k_set` (same arguments, result and
    safety as ``make_synthetic_ade20k``; the meta file's style is ``'benchmark'``).
    """
    return write_ade20k_set(root, render_benchmark_scene, BENCHMARK_CLASS_NAMES, STYLE,
                            num_train, num_val, size, seed, overwrite=overwrite,
                            min_size=MIN_SCENE_SIZE)
