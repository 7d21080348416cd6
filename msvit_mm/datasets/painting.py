"""Painting primitives of the generated scenes: class looks, textures, shapes, shading.

Shared by the quick-start renderer (:mod:`msvit_mm.datasets.synthetic_ade20k`) and the
benchmark renderers under ``benchmarks/``; pure numpy. Every function draws from the
``rng`` it is given, in a fixed order, so a scene is a function of its random stream.
"""
from dataclasses import dataclass
from typing import Tuple

import numpy as np

__all__ = ['ClassStyle', 'MIN_OBJECT_EXTENT', 'MIN_SCENE_SIZE', 'OBJECT_SIZE', 'texture',
           'shape_mask', 'paint', 'shading', 'object_centre']

OBJECT_SIZE = (6.0, 40.0)  # object extent in px at a 128 px short side; scales with it
MIN_OBJECT_EXTENT = 4.0    # no object is drawn smaller than this (px)
MIN_SCENE_SIZE = 4         # the smallest H and W a scene with objects can be drawn at (px)


@dataclass(frozen=True)
class ClassStyle:
    """How one class looks: pixel = lerp(colour, accent, texture in [0, 1])."""
    name: str          # ADE20K class name (mmseg's ADE20KDataset.METAINFO, id - 1)
    colour: Tuple[int, int, int]
    accent: Tuple[int, int, int]
    texture: str       # 'smooth' for stuff; see texture() for the others


def texture(kind: str, yy: np.ndarray, xx: np.ndarray, rng: np.random.Generator,
            centre: Tuple[float, float]) -> np.ndarray:
    """Two-level texture in {0, 1} (or [0, 1]) on the pixel grid ``yy, xx`` [H, W]."""
    y, x = yy + rng.integers(0, 4), xx + rng.integers(0, 4)  # random phase
    if kind == 'smooth':
        return np.zeros_like(yy)
    if kind == 'hstripes2':
        return y % 2
    if kind == 'vstripes2':
        return x % 2
    if kind == 'vstripes4':
        return (x // 2) % 2
    if kind == 'checker1':
        return (y + x) % 2
    if kind == 'diag4':
        return ((y + x) // 2) % 2
    if kind == 'rings4':
        return (np.hypot(yy - centre[0], xx - centre[1]) // 2) % 2
    if kind == 'dots':
        return (rng.random(yy.shape) < 0.25).astype(np.float32)
    raise ValueError(f'unknown texture {kind!r}')


def shape_mask(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray,
               centre: Tuple[float, float], size: float) -> np.ndarray:
    """Bool mask [H, W] of a random disc, ellipse, rectangle, triangle or blob."""
    cy, cx = centre
    r = size / 2
    kind = rng.choice(['disc', 'ellipse', 'rect', 'triangle', 'blob'])
    if kind == 'disc':
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r ** 2
    if kind == 'ellipse':
        ry, rx = r * rng.uniform(0.4, 1.0), r * rng.uniform(0.4, 1.0)
        return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    if kind == 'rect':
        hy, hx = r * rng.uniform(0.3, 1.0), r * rng.uniform(0.3, 1.0)
        return (np.abs(yy - cy) <= hy) & (np.abs(xx - cx) <= hx)
    if kind == 'triangle':
        ang = rng.uniform(0, 2 * np.pi) + np.array([0, 2, 4]) * np.pi / 3
        py, px = cy + r * np.sin(ang), cx + r * np.cos(ang)
        side = [(px[j] - px[i]) * (yy - py[i]) - (py[j] - py[i]) * (xx - px[i])
                for i, j in ((0, 1), (1, 2), (2, 0))]
        return ((side[0] >= 0) & (side[1] >= 0) & (side[2] >= 0)) | (
            (side[0] <= 0) & (side[1] <= 0) & (side[2] <= 0))
    mask = np.zeros(yy.shape, dtype=bool)  # blob: union of 3-4 overlapping discs
    for _ in range(rng.integers(3, 5)):
        oy, ox = rng.uniform(-r / 2, r / 2, size=2)
        rr = r * rng.uniform(0.35, 0.6)
        mask |= (yy - cy - oy) ** 2 + (xx - cx - ox) ** 2 <= rr ** 2
    return mask


def paint(style: ClassStyle, rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray,
          centre: Tuple[float, float], jitter: float) -> np.ndarray:
    """Pixels [H, W, 3] float32 of one class instance (colour jitter, texture)."""
    shift = rng.uniform(-jitter, jitter, size=3)
    colour = np.asarray(style.colour, np.float32) + shift
    accent = np.asarray(style.accent, np.float32) + shift
    tex = texture(style.texture, yy, xx, rng, centre)[..., None]
    return colour + (accent - colour) * tex


def shading(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Low-frequency multiplicative shading [H, W, 1] around 1 (gradient + slow wave)."""
    h, w = yy.shape
    grad = rng.uniform(-0.12, 0.12) * (yy / h - 0.5) + rng.uniform(-0.08, 0.08) * (xx / w - 0.5)
    wave = 0.05 * np.sin(2 * np.pi * (xx / w * rng.uniform(0.3, 1.0) + rng.uniform()))
    return (1 + grad + wave)[..., None]


def object_centre(rng: np.random.Generator, size: Tuple[int, int]
                  ) -> Tuple[float, Tuple[float, float]]:
    """Extent (px) and centre (y, x) of one object inside an image of ``size`` (H, W).

    The extent is drawn from :data:`OBJECT_SIZE` scaled to the short side (at least
    :data:`MIN_OBJECT_EXTENT`); the object lies inside the image, which needs
    ``min(H, W) >= MIN_SCENE_SIZE``.
    """
    h, w = size
    extent = max(MIN_OBJECT_EXTENT, rng.uniform(*OBJECT_SIZE) * (min(h, w) / 128))
    centre = (rng.uniform(extent / 2, h - extent / 2), rng.uniform(extent / 2, w - extent / 2))
    return extent, centre
