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
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ['CLASS_STYLES', 'render_scene', 'make_synthetic_ade20k', 'class_frequencies']

SUBDIR = 'ADEChallengeData2016'
META_FILE = 'synthetic_meta.json'
GENERATOR = 'msvit_mm.datasets.synthetic_ade20k'
GENERATOR_VERSION = 1  # of the scenes; meta files since this change also list the files
DEFAULT_ROOT = 'data/synthetic_ade'
JPEG_QUALITY = 95
SPLITS = {'training': ('train', 0), 'validation': ('val', 1)}  # dir -> (file tag, rng code)


@dataclass(frozen=True)
class ClassStyle:
    """How one class looks: pixel = lerp(colour, accent, texture in [0, 1])."""
    name: str          # ADE20K class name (mmseg's ADE20KDataset.METAINFO, id - 1)
    colour: Tuple[int, int, int]
    accent: Tuple[int, int, int]
    texture: str       # 'smooth' for stuff; see _texture for the others


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
OBJECT_SIZE = (6.0, 40.0)  # object extent in px at a 128 px short side; scales with it
NOISE_STD = 3.0


def _texture(kind: str, yy: np.ndarray, xx: np.ndarray, rng: np.random.Generator,
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


def _shape_mask(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray,
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


def _paint(style: ClassStyle, rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray,
           centre: Tuple[float, float], jitter: float) -> np.ndarray:
    """Pixels [H, W, 3] float32 of one class instance (colour jitter, texture)."""
    shift = rng.uniform(-jitter, jitter, size=3)
    colour = np.asarray(style.colour, np.float32) + shift
    accent = np.asarray(style.accent, np.float32) + shift
    tex = _texture(style.texture, yy, xx, rng, centre)[..., None]
    return colour + (accent - colour) * tex


def _shading(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Low-frequency multiplicative shading [H, W, 1] around 1 (gradient + slow wave)."""
    h, w = yy.shape
    grad = rng.uniform(-0.12, 0.12) * (yy / h - 0.5) + rng.uniform(-0.08, 0.08) * (xx / w - 0.5)
    wave = 0.05 * np.sin(2 * np.pi * (xx / w * rng.uniform(0.3, 1.0) + rng.uniform()))
    return (1 + grad + wave)[..., None]


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
        pix = _paint(CLASS_STYLES[int(cid)], rng, yy, xx, (0, 0), 12) * _shading(rng, yy, xx)
        image[region] = pix[region]

    scale = min(h, w) / 128
    for _ in range(rng.integers(3, 8)):
        extent = max(4.0, rng.uniform(*OBJECT_SIZE) * scale)
        centre = (rng.uniform(extent / 2, h - extent / 2), rng.uniform(extent / 2, w - extent / 2))
        mask = _shape_mask(rng, yy, xx, centre, extent)
        if rng.random() < CLUTTER_PROB:
            cid = 0
            style = ClassStyle('other', tuple(rng.integers(0, 256, 3)),
                               tuple(rng.integers(0, 256, 3)), 'dots')
        else:
            cid = int(rng.choice(THING_IDS))
            style = CLASS_STYLES[cid]
        image[mask] = _paint(style, rng, yy, xx, centre, 10)[mask]
        label[mask] = cid
    image += rng.normal(0, NOISE_STD, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), label


def _file_names(split: str, num: int) -> List[str]:
    tag = SPLITS[split][0]
    return [f'ADE_{tag}_{i + 1:08d}' for i in range(num)]


def _existing_files(data_root: str) -> List[str]:
    found = []
    for split in SPLITS:
        for sub, ext in (('images', '.jpg'), ('annotations', '.png')):
            d = osp.join(data_root, sub, split)
            if osp.isdir(d):
                found += [osp.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(ext)]
    return found


def _expected_files(data_root: str, counts: Dict[str, int]) -> List[str]:
    files = []
    for split, num in counts.items():
        for stem in _file_names(split, num):
            files.append(osp.join(data_root, 'images', split, stem + '.jpg'))
            files.append(osp.join(data_root, 'annotations', split, stem + '.png'))
    return files


def _written_files(data_root: str, meta: Optional[dict]) -> List[str]:
    """The files an earlier run wrote (or was writing), as its meta file lists them."""
    if meta is None or meta.get('generator') != GENERATOR:
        return []
    if 'files' in meta:
        return [osp.join(data_root, f) for f in meta['files']]
    # older meta files list no files: the names follow from the counts
    return _expected_files(data_root, {'training': int(meta.get('num_train', 0)),
                                       'validation': int(meta.get('num_val', 0))})


def _renderer(style: str):
    """The scene function of a style: 'demo' or 'benchmark'."""
    if style == 'demo':
        return render_scene
    if style == 'benchmark':
        from .synthetic_benchmark import render_benchmark_scene
        return render_benchmark_scene
    raise ValueError(f"style={style!r} is not 'demo' or 'benchmark'")


def _class_names(style: str) -> Dict[int, str]:
    """ADE20K id -> name of every class a style's scenes can hold."""
    names = {k: v.name for k, v in CLASS_STYLES.items()}
    if style == 'benchmark':
        from .synthetic_benchmark import BENCHMARK_STYLES, FLAT_PAINTING, PAINTING
        names.update({k: v.name for k, v in BENCHMARK_STYLES.items()})
        names[PAINTING] = FLAT_PAINTING.name
    return dict(sorted(names.items()))


def make_synthetic_ade20k(root: str = DEFAULT_ROOT, num_train: int = 240, num_val: int = 60,
                          size: Sequence[int] = (128, 128), seed: int = 0,
                          overwrite: bool = False,
                          style: str = 'demo') -> dict:
    """Write the synthetic set under ``{root}/ADEChallengeData2016`` (idempotent).

    Args:
        root: the folder that holds ``ADEChallengeData2016`` (default ``data/synthetic_ade``;
            mmseg's ``data/ade`` is where the real ADE20K goes).
        num_train, num_val: images in ``training`` and ``validation``.
        size: (H, W) of every image.
        seed: the set's seed; another seed gives other scenes.
        style: 'demo' (:func:`render_scene`, the quick start's scenes) or 'benchmark'
            (``synthetic_benchmark.render_benchmark_scene``: textured one-class stuff and
            isoluminant boundaries, the gate benchmark's scenes).
        overwrite: replace a set this generator made with other parameters. Only the files
            listed in its meta file are deleted; other files are never touched.

    Returns:
        dict with ``data_root``, ``num_train``, ``num_val``, ``size``, ``seed``, ``written``
        (False when a complete set with the same parameters was already there) and ``classes``
        (ADE20K id -> name).

    Raises:
        FileExistsError: the split folders hold .jpg/.png files this generator did not write
            (whatever ``overwrite``), or another synthetic set and ``overwrite`` is off.
    """
    import cv2  # comes with mmcv/mmengine; imported here so the renderer is pure numpy

    size = (int(size[0]), int(size[1]))
    data_root = osp.join(root, SUBDIR)
    meta_path = osp.join(data_root, META_FILE)
    renderer = _renderer(style)
    params = dict(generator=GENERATOR, version=GENERATOR_VERSION,
                  num_train=int(num_train), num_val=int(num_val), size=list(size),
                  seed=int(seed), jpeg_quality=JPEG_QUALITY, style=style)
    counts = {'training': int(num_train), 'validation': int(num_val)}
    result = dict(data_root=data_root, num_train=counts['training'],
                  num_val=counts['validation'], size=size, seed=int(seed),
                  classes=_class_names(style))
    expected = _expected_files(data_root, counts)
    existing = _existing_files(data_root)
    meta = None
    if osp.isfile(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        meta.setdefault('style', 'demo')  # sets written before styles existed
    ours = set(_written_files(data_root, meta))
    foreign = [p for p in existing if p not in ours]
    same = meta is not None and {k: meta.get(k) for k in params} == params
    if same and meta.get('complete') and sorted(existing) == sorted(expected) and not foreign:
        return dict(result, written=False)
    if foreign:
        raise FileExistsError(
            f'{data_root} holds {len(foreign)} .jpg/.png files not written by this generator '
            f'(e.g. {foreign[:3]}). It never deletes or mixes in files it did not write: '
            f'choose another root (the default is {DEFAULT_ROOT}) or move those files away.')
    if meta is not None and not same and not overwrite:
        diff = {k: meta.get(k) for k in params if meta.get(k) != params[k]}
        raise FileExistsError(
            f'{data_root} already holds a synthetic set made with {diff} '
            f'(wanted {({k: params[k] for k in diff})}). Pass overwrite=True (--overwrite) to '
            'replace the files that set wrote, or choose another root.')
    for path in existing:  # all listed in the meta file: written by this generator
        os.remove(path)
    for split in counts:
        for sub in ('images', 'annotations'):
            os.makedirs(osp.join(data_root, sub, split), exist_ok=True)
    files = [osp.relpath(p, data_root) for p in expected]
    with open(meta_path, 'w') as f:  # the list first: a killed run's files stay known as ours
        json.dump(dict(params, complete=False, files=files), f, indent=1)
    for split, num in counts.items():
        for i, stem in enumerate(_file_names(split, num)):
            rng = np.random.default_rng([int(seed), SPLITS[split][1], i])
            image, label = renderer(rng, size)
            img_path = osp.join(data_root, 'images', split, stem + '.jpg')
            seg_path = osp.join(data_root, 'annotations', split, stem + '.png')
            if not (cv2.imwrite(img_path, image[..., ::-1],
                                [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                    and cv2.imwrite(seg_path, label)):
                raise OSError(f'could not write {img_path} / {seg_path}')
    classes = {str(k): v for k, v in _class_names(style).items()}
    with open(meta_path, 'w') as f:
        json.dump(dict(params, complete=True, classes=classes, files=files), f, indent=1)
    return dict(result, written=True)


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

