"""Real-texture scenes: crops of real photographs, one ADE20K class per photo, labels by construction.

A scene is a *stuff* partition (2-7 cells of a Voronoi diagram on warped coordinates, so the
borders wave) plus 0-6 *things* (star-shaped blobs) painted over it. Every cell and blob is a
*piece*: a crop of its class's photo (:mod:`.sources`) at a random position, mirror and
zoom (log-uniform in :data:`ZOOM`; the crop covers the whole image and the piece's mask
shows part of it). Blobs are now and then unlabelled clutter (a photo of text, label 0).
In about half of the scenes the pieces' grey levels are pulled towards one level (their
hue and texture kept), so a border between two plain pieces can be nearly flat in grey:
texture and semantics disagree both ways (a textured cell is one class, a flat region can
hold two), unlike the generated scenes of ``msvit_mm.datasets.synthetic_benchmark``.

Labels are uint8 ADE20K ids (0 = other, ignored after ``reduce_zero_label``). The scene is a
function of the rng stream alone (the photos are fixed files).
"""
from typing import Dict, List, Tuple

import numpy as np

from .sources import CLUTTER_ID, STUFF_IDS, THING_IDS, load_photos

MIN_SIZE = 32                 # one 32x32 coarse region: smaller scenes cannot be drawn
NUM_CELLS = (2, 6)            # stuff cells per scene (inclusive)
NUM_THINGS = (1, 6)           # blobs per scene (inclusive)
THING_RADIUS = (8.0, 30.0)    # blob radius in px at a 128 px short side; scales with it
STUFF_ZOOM = (0.5, 1.5)       # output px per photo px (log-uniform): stuff keeps its detail,
THING_ZOOM = (1.0, 3.0)       # things are enlarged (smoother, and more of an object's part)
CLUTTER_PROB = 0.08           # chance that a blob is unlabelled clutter
GREY_MATCH_PROB = 0.5         # chance that a scene pulls its pieces to one grey level
GREY_MATCH_STRENGTH = (0.5, 1.0)
WARP = 0.08                   # border waviness, share of the short side


def check_size(size) -> Tuple[int, int]:
    """(H, W) as ints, or a ValueError naming the minimum."""
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f'size must be (H, W), got {size!r}') from None
    if (h, w) != tuple(size) or h < MIN_SIZE or w < MIN_SIZE:
        raise ValueError(f'a texture scene needs integer sides of at least {MIN_SIZE} px '
                         f'(one coarse region), got {size!r}')
    return h, w


def crop_piece(photo: np.ndarray, top: int, left: int, crop_hw: Tuple[int, int],
               flip: bool, size: Tuple[int, int]) -> np.ndarray:
    """``photo[top:top + ch, left:left + cw]`` (mirrored if ``flip``) resized to ``size``.

    Returns [H, W, 3] float32 (area interpolation when shrinking, bilinear when enlarging).
    """
    import cv2

    ch, cw = crop_hw
    part = photo[top:top + ch, left:left + cw]
    if flip:
        part = part[:, ::-1]
    h, w = size
    interp = cv2.INTER_AREA if ch > h else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(part), (w, h), interpolation=interp).astype(np.float32)


def _draw_crop(rng: np.random.Generator, photo: np.ndarray, size: Tuple[int, int],
               zoom_range: Tuple[float, float]) -> Dict:
    h, w = size
    ph, pw = photo.shape[:2]
    low = max(zoom_range[0], h / ph, w / pw)  # the crop must fit in the photo
    zoom = float(np.exp(rng.uniform(np.log(low), np.log(max(low, zoom_range[1])))))
    ch, cw = min(ph, int(np.ceil(h / zoom))), min(pw, int(np.ceil(w / zoom)))
    return dict(top=int(rng.integers(0, ph - ch + 1)), left=int(rng.integers(0, pw - cw + 1)),
                crop_hw=(ch, cw), flip=bool(rng.random() < 0.5))


def _stuff_cells(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """[H, W] int cell index of a Voronoi diagram on wavy coordinates."""
    h, w = yy.shape
    amp, short = WARP * min(h, w), min(h, w)
    wy = yy + amp * np.sin(2 * np.pi * xx / (short * rng.uniform(0.4, 1.2)) + rng.uniform(0, 7))
    wx = xx + amp * np.sin(2 * np.pi * yy / (short * rng.uniform(0.4, 1.2)) + rng.uniform(0, 7))
    k = int(rng.integers(NUM_CELLS[0], NUM_CELLS[1] + 1))
    seeds = rng.uniform((0, 0), (h, w), size=(k, 2))
    dist = (wy[None] - seeds[:, :1, None]) ** 2 + (wx[None] - seeds[:, 1:, None]) ** 2
    return np.argmin(dist, axis=0)


def _blob(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """[H, W] bool star-shaped blob (radius modulated by three harmonics)."""
    h, w = yy.shape
    radius = rng.uniform(*THING_RADIUS) * min(h, w) / 128
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    angle = np.arctan2(yy - cy, xx - cx)
    r = np.full_like(yy, radius)
    for k in (2, 3, 4):
        r = r + radius * rng.uniform(0, 0.25) * np.cos(k * angle + rng.uniform(0, 7))
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2


def _layout(rng: np.random.Generator, h: int, w: int) -> Tuple[np.ndarray, List[int], int]:
    """Piece index map [H, W] (int16), the class (ADE20K id, 0 = clutter) of each piece and
    the number of stuff pieces (the first ones)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cells = _stuff_cells(rng, yy, xx)
    classes = [int(rng.choice(STUFF_IDS)) for _ in range(int(cells.max()) + 1)]
    num_stuff = len(classes)
    piece_map = cells.astype(np.int16)
    for _ in range(int(rng.integers(NUM_THINGS[0], NUM_THINGS[1] + 1))):
        mask = _blob(rng, yy, xx)
        cid = CLUTTER_ID if rng.random() < CLUTTER_PROB else int(rng.choice(THING_IDS))
        piece_map[mask] = len(classes)
        classes.append(cid)
    return piece_map, classes, num_stuff


def render_texture_scene(rng: np.random.Generator, size: Tuple[int, int] = (128, 128),
                         return_sources: bool = False):
    """Draw one real-texture scene.

    Args:
        rng: the scene's random stream (consumed).
        size: (H, W) in pixels, each side >= :data:`MIN_SIZE`.
        return_sources: also return how each pixel was made (for checks).

    Returns:
        ``image`` [H, W, 3] uint8 RGB and ``label`` [H, W] uint8 ADE20K ids (0 = other);
        with ``return_sources`` a third item ``dict(piece_map=[H, W] int16 piece index,
        pieces=[dict(ade_id, top, left, crop_hw, flip, shift)])``: the pixels of piece ``i``
        are ``rint(crop_piece(photos[ade_id], top, left, crop_hw, flip, size) + shift)``
        clipped to [0, 255] on ``piece_map == i`` (``shift`` is one grey offset).
    """
    h, w = check_size(size)
    photos = load_photos()
    piece_map, classes, num_stuff = _layout(rng, h, w)
    matched = rng.random() < GREY_MATCH_PROB
    strength = rng.uniform(*GREY_MATCH_STRENGTH) if matched else 0.0
    target = rng.uniform(70, 180)
    image = np.zeros((h, w, 3), np.float32)
    pieces = []
    for index, cid in enumerate(classes):
        stuff = index < num_stuff
        params = _draw_crop(rng, photos[cid], (h, w), STUFF_ZOOM if stuff else THING_ZOOM)
        mask = piece_map == index
        if not mask.any():  # covered by later pieces
            pieces.append(dict(ade_id=cid, shift=0.0, **params))
            continue
        pix = crop_piece(photos[cid], size=(h, w), **params)
        shift = float(strength * (target - pix[mask].mean())) if stuff else 0.0
        image[mask] = pix[mask] + shift
        pieces.append(dict(ade_id=cid, shift=shift, **params))
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    label = np.asarray(classes, np.uint8)[piece_map]
    if return_sources:
        return image, label, dict(piece_map=piece_map, pieces=pieces)
    return image, label
