"""Object scenes for classification: one real object on a plain background, labels by construction.

A scene is one *object* (a crop of a photo shipped in the scikit-image or scikit-learn
wheel, centred on the photo's object box, :data:`OBJECTS`; one class per photo) pasted at a
random position and size through a rounded mask onto a low-detail *background*: a flat
colour, a smooth colour gradient, or a blurred, low-contrast patch of another photo
(:data:`BACKGROUND_PHOTOS`, never an object's). So the detail sits on the object and the
background is plain: a gate has something to choose (the object's regions fine, the
background coarse). Some objects are turned grey (:data:`GREY_PROB`) so that colour alone
does not tell the class.

Everything is a pure function of the rng stream (the photos are fixed files); nothing is
downloaded. The writer of the mmpretrain ``CustomDataset`` folder layout is
:mod:`.object_cls_writer`.
"""
import functools
from typing import Dict, NamedTuple, Tuple

import numpy as np

from .wheel_photos import wheel_photo

__all__ = ['OBJECTS', 'BACKGROUND_PHOTOS', 'CLASS_NAMES', 'MIN_SIZE', 'check_size',
           'check_scene_size',
           'load_object_photos', 'load_background_photos', 'object_piece', 'object_mask',
           'render_background', 'render_object_scene']


class ObjectSource(NamedTuple):
    name: str      # the class name (its folder in the CustomDataset layout)
    package: str   # the package whose wheel holds the photo
    path: str      # the photo, relative to the package folder
    box: Tuple[int, int, int, int]  # the object (top, left, bottom, right) in photo px


OBJECTS: Tuple[ObjectSource, ...] = (
    ObjectSource('astronaut', 'skimage', 'data/astronaut.png', (0, 30, 420, 450)),
    ObjectSource('cameraman', 'skimage', 'data/camera.png', (40, 30, 470, 460)),
    ObjectSource('cat', 'skimage', 'data/chelsea.png', (0, 100, 300, 400)),
    ObjectSource('coffee', 'skimage', 'data/coffee.png', (0, 60, 400, 460)),
    ObjectSource('coins', 'skimage', 'data/coins.png', (0, 0, 303, 384)),
    ObjectSource('flower', 'sklearn', 'datasets/images/flower.jpg', (70, 160, 370, 460)),
    ObjectSource('horse', 'skimage', 'data/horse.png', (0, 0, 328, 400)),
    ObjectSource('motorcycle', 'skimage', 'data/motorcycle_left.png', (90, 60, 500, 600)),
    ObjectSource('rocket', 'skimage', 'data/rocket.jpg', (127, 170, 427, 470)),
    ObjectSource('temple', 'sklearn', 'datasets/images/china.jpg', (0, 90, 420, 420)),
)
CLASS_NAMES: Tuple[str, ...] = tuple(sorted(o.name for o in OBJECTS))  # = CustomDataset order
BACKGROUND_PHOTOS: Tuple[Tuple[str, str], ...] = (
    ('skimage', 'data/brick.png'), ('skimage', 'data/grass.png'),
    ('skimage', 'data/gravel.png'), ('skimage', 'data/moon.png'),
    ('skimage', 'data/hubble_deep_field.jpg'), ('skimage', 'data/ihc.png'),
    ('skimage', 'data/cell.png'), ('skimage', 'data/page.png'))

MIN_SIZE = 32                      # one 32x32 coarse region
OBJECT_SIDE = (0.3, 0.6)           # the object's square side, share of the short image side
BOX_SCALE = (0.8, 1.0)             # the crop: this share of the object box's side,
BOX_SHIFT = 0.1                    # its centre moved by up to this share of the side
MASK_POWER = (2.0, 5.0)            # superellipse exponent of the mask: 2 = ellipse, 5 = squarish
GREY_PROB = 0.25                   # chance that a colour object is shown in grey
BACKGROUND_KINDS = ('flat', 'gradient', 'photo')
BLUR_SIGMA = (2.0, 5.0)            # a photo background's blur, px at a 128 px short side
PHOTO_CONTRAST = (0.2, 0.5)        # ... and the share of its contrast that is kept


def check_scene_size(size, what: str = 'an object scene', min_size: int = MIN_SIZE
                     ) -> Tuple[int, int]:
    """(H, W) as ints, or a ValueError naming ``what`` and the minimum side."""
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f'size must be (H, W), got {size!r}') from None
    if (h, w) != tuple(size) or h < min_size or w < min_size:
        raise ValueError(f'{what} needs integer sides of at least {min_size} px '
                         f'(one coarse region), got {size!r}')
    return h, w


def check_size(size) -> Tuple[int, int]:
    """(H, W) of an object scene as ints, or a ValueError naming the minimum."""
    return check_scene_size(size)


@functools.lru_cache(maxsize=1)
def load_object_photos() -> Dict[str, np.ndarray]:
    """Every object's photo by class name, [H, W, 3] uint8 RGB; read once, read-only."""
    return {o.name: wheel_photo(o.package, o.path) for o in OBJECTS}


@functools.lru_cache(maxsize=1)
def load_background_photos() -> Tuple[np.ndarray, ...]:
    """The background photos, [H, W, 3] uint8 RGB each; read once, read-only."""
    return tuple(wheel_photo(p, f) for p, f in BACKGROUND_PHOTOS)


def object_piece(photo: np.ndarray, box: Tuple[int, int, int, int], side: int,
                 rng: np.random.Generator) -> np.ndarray:
    """A square crop around ``box`` (scaled, shifted, maybe mirrored/grey) at ``side`` px.

    Returns [side, side, 3] uint8.
    """
    import cv2

    top, left, bottom, right = box
    crop = int(round(max(bottom - top, right - left) * rng.uniform(*BOX_SCALE)))
    crop = max(1, min(crop, *photo.shape[:2]))
    cy = (top + bottom) / 2 + rng.uniform(-BOX_SHIFT, BOX_SHIFT) * crop
    cx = (left + right) / 2 + rng.uniform(-BOX_SHIFT, BOX_SHIFT) * crop
    y0 = int(np.clip(round(cy - crop / 2), 0, photo.shape[0] - crop))
    x0 = int(np.clip(round(cx - crop / 2), 0, photo.shape[1] - crop))
    part = photo[y0:y0 + crop, x0:x0 + crop]
    if rng.random() < 0.5:
        part = part[:, ::-1]
    interp = cv2.INTER_AREA if crop > side else cv2.INTER_LINEAR
    piece = cv2.resize(np.ascontiguousarray(part), (side, side), interpolation=interp)
    if rng.random() < GREY_PROB:
        grey = piece.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        piece = np.repeat(np.round(grey).astype(np.uint8)[..., None], 3, axis=2)
    return piece


def object_mask(side: int, power: float) -> np.ndarray:
    """[side, side] bool: the superellipse ``|u|^p + |v|^p <= 1`` inscribed in the square."""
    u = (np.arange(side, dtype=np.float64) + 0.5) / side * 2 - 1
    return (np.abs(u)[:, None] ** power + np.abs(u)[None, :] ** power) <= 1.0


def render_background(rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    """A flat colour, a smooth two-colour gradient or a blurred low-contrast photo patch.

    Returns [H, W, 3] uint8.
    """
    import cv2

    h, w = size
    kind = BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))]
    if kind == 'flat':
        out = np.broadcast_to(rng.uniform(20, 235, 3), (h, w, 3))
    elif kind == 'gradient':
        a, b = rng.uniform(20, 235, (2, 3))
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w]
        t = (np.cos(angle) * xx / max(w - 1, 1) + np.sin(angle) * yy / max(h - 1, 1))
        t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
        out = a + t[..., None] * (b - a)
    else:
        photos = load_background_photos()
        photo = photos[int(rng.integers(len(photos)))].astype(np.float32)
        zoom = rng.uniform(0.5, 1.5)
        ch = min(photo.shape[0], int(np.ceil(h / zoom)))
        cw = min(photo.shape[1], int(np.ceil(w / zoom)))
        y0 = int(rng.integers(0, photo.shape[0] - ch + 1))
        x0 = int(rng.integers(0, photo.shape[1] - cw + 1))
        patch = cv2.resize(photo[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_AREA)
        sigma = rng.uniform(*BLUR_SIGMA) * min(h, w) / 128
        patch = cv2.GaussianBlur(patch, (0, 0), sigma)
        mean = patch.mean(axis=(0, 1))
        tint = rng.uniform(40, 215, 3)
        out = tint + rng.uniform(*PHOTO_CONTRAST) * (patch - mean)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def render_object_scene(rng: np.random.Generator, size: Tuple[int, int], label: int
                        ) -> Dict[str, object]:
    """One scene of class ``label`` (an index into :data:`CLASS_NAMES`).

    Returns:
        dict with ``image`` [H, W, 3] uint8 RGB, ``mask`` [H, W] bool (the object's pixels),
        ``background`` [H, W, 3] uint8 (the scene before the object was pasted: ``image``
        equals it outside ``mask``), ``piece`` [s, s, 3] uint8 (the object crop: ``image``
        equals it inside ``mask``), ``box`` (top, left, bottom, right) of the object's
        square in image px, and ``label``.
    """
    h, w = check_size(size)
    if not 0 <= int(label) < len(CLASS_NAMES) or int(label) != label:
        raise ValueError(f'label={label!r}: must be an integer in [0, {len(CLASS_NAMES)})')
    name = CLASS_NAMES[int(label)]
    source = next(o for o in OBJECTS if o.name == name)
    background = render_background(rng, (h, w))
    side = max(2, int(round(rng.uniform(*OBJECT_SIDE) * min(h, w))))
    top = int(rng.integers(0, h - side + 1))
    left = int(rng.integers(0, w - side + 1))
    piece = object_piece(load_object_photos()[name], source.box, side, rng)
    mask = np.zeros((h, w), bool)
    mask[top:top + side, left:left + side] = object_mask(side, rng.uniform(*MASK_POWER))
    image = background.copy()
    image[mask] = piece[mask[top:top + side, left:left + side]]
    return dict(image=image, mask=mask, background=background, piece=piece,
                box=(top, left, top + side, left + side), label=int(label))
