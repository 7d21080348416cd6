"""Real-texture scenes: crops of real photographs, one ADE20K class per photo, labels by construction.

A scene (design v3) is a *stuff* partition (2-6 cells of a Voronoi diagram on warped
coordinates, so the borders wave) plus 1-6 *things* (star-shaped blobs) painted over it.
A stuff cell is a crop of its class's photo (:mod:`.sources`) covering the image at a random
position, mirror and zoom (log-uniform in :data:`STUFF_ZOOM`). A thing is its photo's
object: a square crop centred on the object's box (:data:`BOX_SCALE`, :data:`BOX_SHIFT`)
resized to the blob's bounding square, so every blob shows the object, in its colours.
Blobs are now and then unlabelled clutter (a photo of text, label 0). In about three
quarters of the scenes the stuff cells' grey levels are pulled towards one level (hue and
texture kept), so a border between two plain cells can be nearly flat in grey: texture and
semantics disagree both ways (a textured cell is one class, a flat region can hold two),
unlike the generated scenes of ``msvit_mm.datasets.synthetic_benchmark``.

Labels are uint8 ADE20K ids (0 = other, ignored after ``reduce_zero_label``). The scene is a
function of the rng stream alone (the photos are fixed files).
"""
from typing import Dict, List, Tuple

import numpy as np

from msvit_mm.datasets.object_scenes import check_scene_size

from .sources import CLUTTER_ID, OBJECT_BOXES, STUFF_IDS, THING_IDS, load_photos

MIN_SIZE = 32                 # one 32x32 coarse region: smaller scenes cannot be drawn
NUM_CELLS = (2, 6)            # stuff cells per scene (inclusive)
NUM_THINGS = (1, 6)           # blobs per scene (inclusive)
THING_RADIUS = (12.0, 30.0)   # blob radius in px at a 128 px short side; scales with it
STUFF_ZOOM = (0.5, 1.5)       # output px per photo px (log-uniform): stuff keeps its detail
BOX_SCALE = (0.7, 1.0)        # a thing's crop: this share of its object box's side,
BOX_SHIFT = 0.1               # its centre moved by up to this share of the side
CLUTTER_PROB = 0.08           # chance that a blob is unlabelled clutter
GREY_MATCH_PROB = 0.75        # chance that a scene pulls its pieces to one grey level
GREY_MATCH_STRENGTH = (0.5, 1.0)
WARP = 0.08                   # border waviness, share of the short side


def check_size(size) -> Tuple[int, int]:
    """(H, W) as ints, or a ValueError naming the minimum."""
    return check_scene_size(size, 'a texture scene', MIN_SIZE)


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


def _blob(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray):
    """[H, W] bool star-shaped blob (radius modulated by three harmonics) and its bounding
    square ``(y0, x0, side)`` (int px, may reach past the image): the blob lies inside it."""
    h, w = yy.shape
    radius = rng.uniform(*THING_RADIUS) * min(h, w) / 128
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    angle = np.arctan2(yy - cy, xx - cx)
    r = np.full_like(yy, radius)
    reach = radius
    for k in (2, 3, 4):
        amp = radius * rng.uniform(0, 0.25)
        r = r + amp * np.cos(k * angle + rng.uniform(0, 7))
        reach += amp
    y0, x0 = int(np.floor(cy - reach)), int(np.floor(cx - reach))
    side = int(np.ceil(max(cy + reach - y0, cx + reach - x0))) + 1
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2, (y0, x0, side)


def _object_crop(rng: np.random.Generator, photo: np.ndarray, box) -> Dict:
    """A square crop centred (up to :data:`BOX_SHIFT`) on the object ``box`` (top, left,
    bottom, right; None = anywhere in the photo), inside the photo."""
    ph, pw = photo.shape[:2]
    top, left, bottom, right = box if box is not None else (0, 0, ph, pw)
    full = min(bottom - top, right - left)
    if box is None:
        full = int(full * rng.uniform(0.5, 1.0))
    side = max(8, min(ph, pw, int(round(full * rng.uniform(*BOX_SCALE)))))
    cy = (top + bottom) / 2 + rng.uniform(-BOX_SHIFT, BOX_SHIFT) * full
    cx = (left + right) / 2 + rng.uniform(-BOX_SHIFT, BOX_SHIFT) * full
    if box is None:
        cy, cx = rng.uniform(side / 2, ph - side / 2), rng.uniform(side / 2, pw - side / 2)
    t = int(np.clip(round(cy - side / 2), 0, ph - side))
    l = int(np.clip(round(cx - side / 2), 0, pw - side))
    return dict(top=t, left=l, crop_hw=(side, side), flip=bool(rng.random() < 0.5))


def place_piece(piece: np.ndarray, y0: int, x0: int, size: Tuple[int, int]) -> np.ndarray:
    """[S, S, C] ``piece`` put with its top-left corner at (y0, x0) on a zero [H, W, C]
    canvas (the parts past the canvas are cut off)."""
    h, w = size
    side = piece.shape[0]
    out = np.zeros((h, w) + piece.shape[2:], piece.dtype)
    ty, tx = max(y0, 0), max(x0, 0)
    by, bx = min(y0 + side, h), min(x0 + side, w)
    if by > ty and bx > tx:
        out[ty:by, tx:bx] = piece[ty - y0:by - y0, tx - x0:bx - x0]
    return out


def _layout(rng: np.random.Generator, h: int, w: int) -> Tuple[np.ndarray, List[int], List]:
    """Piece index map [H, W] (int16), the class (ADE20K id, 0 = clutter) of each piece and
    its place: None for a stuff cell (the first pieces), a thing's bounding square."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cells = _stuff_cells(rng, yy, xx)
    classes = [int(rng.choice(STUFF_IDS)) for _ in range(int(cells.max()) + 1)]
    places = [None] * len(classes)
    piece_map = cells.astype(np.int16)
    for _ in range(int(rng.integers(NUM_THINGS[0], NUM_THINGS[1] + 1))):
        mask, place = _blob(rng, yy, xx)
        cid = CLUTTER_ID if rng.random() < CLUTTER_PROB else int(rng.choice(THING_IDS))
        piece_map[mask] = len(classes)
        classes.append(cid)
        places.append(place)
    return piece_map, classes, places


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
        pieces=[dict(ade_id, top, left, crop_hw, flip, shift, place)])``: the pixels of a
        stuff piece ``i`` (``place`` None) are ``rint(crop_piece(photos[ade_id], top, left,
        crop_hw, flip, size) + shift)`` clipped to [0, 255] on ``piece_map == i`` (``shift``
        is one grey offset); those of a thing (``place = (y0, x0, side)``) are
        ``place_piece(crop_piece(..., (side, side)), y0, x0, size)`` there (no shift).
    """
    h, w = check_size(size)
    photos = load_photos()
    piece_map, classes, places = _layout(rng, h, w)
    matched = rng.random() < GREY_MATCH_PROB
    strength = rng.uniform(*GREY_MATCH_STRENGTH) if matched else 0.0
    target = rng.uniform(70, 180)
    image = np.zeros((h, w, 3), np.float32)
    pieces = []
    for index, (cid, place) in enumerate(zip(classes, places)):
        if place is None:  # stuff: a crop covering the image
            params = _draw_crop(rng, photos[cid], (h, w), STUFF_ZOOM)
        else:  # thing: its object, resized to the blob's bounding square
            params = _object_crop(rng, photos[cid], OBJECT_BOXES.get(cid))
        mask = piece_map == index
        if not mask.any():  # covered by later pieces
            pieces.append(dict(ade_id=cid, shift=0.0, place=place, **params))
            continue
        if place is None:
            pix = crop_piece(photos[cid], size=(h, w), **params)
        else:
            y0, x0, side = place
            pix = place_piece(crop_piece(photos[cid], size=(side, side), **params), y0, x0,
                              (h, w))
        shift = float(strength * (target - pix[mask].mean())) if place is None else 0.0
        image[mask] = pix[mask] + shift
        pieces.append(dict(ade_id=cid, shift=shift, place=place, **params))
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    label = np.asarray(classes, np.uint8)[piece_map]
    if return_sources:
        return image, label, dict(piece_map=piece_map, pieces=pieces)
    return image, label
