"""The real-texture scene generator: deterministic, labels by construction, pixels from the photos."""
import numpy as np
import pytest

pytest.importorskip('skimage')
pytest.importorskip('sklearn')
cv2 = pytest.importorskip('cv2')

from benchmarks.texture.region_stats import rule_agreement, spearman  # noqa: E402
from benchmarks.texture.scenes import (MIN_SIZE, place_piece,  # noqa: E402
                                       render_texture_scene)
from benchmarks.texture.sources import (OBJECT_BOXES, SOURCES, STUFF_IDS,  # noqa: E402
                                        TEXTURE_CLASSES, THING_IDS, load_photos, source_path)


def _scene(seed, size=(64, 96), **kw):
    return render_texture_scene(np.random.default_rng(seed), size, **kw)


def test_same_seed_same_scene_other_seed_other_scene():
    a_img, a_lab = _scene(3)
    b_img, b_lab = _scene(3)
    c_img, c_lab = _scene(4)
    np.testing.assert_array_equal(a_img, b_img)
    np.testing.assert_array_equal(a_lab, b_lab)
    assert not np.array_equal(a_img, c_img)


def test_shapes_dtypes_and_declared_classes():
    seen = set()
    for seed in range(12):
        img, lab = _scene(seed, (64, 96))
        assert img.shape == (64, 96, 3) and img.dtype == np.uint8
        assert lab.shape == (64, 96) and lab.dtype == np.uint8
        seen |= set(np.unique(lab).tolist())
    assert seen <= set(TEXTURE_CLASSES) | {0}
    assert len(seen & set(STUFF_IDS)) >= 3 and len(seen & set(THING_IDS)) >= 3


def test_class_names_are_ade20k_names_and_ids_unique():
    from mmseg.datasets import ADE20KDataset

    names = ADE20KDataset.METAINFO['classes']
    for ade_id, name in TEXTURE_CLASSES.items():
        assert 1 <= ade_id <= 150 and names[ade_id - 1] == name, (ade_id, name)
    ids = [s.ade_id for s in SOURCES]
    assert len(ids) == len(set(ids))


def test_photos_ship_in_the_wheels():
    photos = load_photos()
    for s in SOURCES:
        assert source_path(s).endswith(s.path)
        p = photos[s.ade_id]
        assert p.ndim == 3 and p.shape[2] == 3 and p.dtype == np.uint8
        assert min(p.shape[:2]) >= 128 and p.std() > 5  # a photo, not a blank file


def _reference_piece(photo, piece, size):
    """The piece's pixels on the whole [H, W] canvas, made independently of the renderer."""
    (ch, cw), top, left = piece['crop_hw'], piece['top'], piece['left']
    part = photo[top:top + ch, left:left + cw]
    assert part.shape[:2] == (ch, cw)  # the crop lies inside the photo
    part = np.ascontiguousarray(part[:, ::-1] if piece['flip'] else part)
    out_hw = size if piece['place'] is None else (piece['place'][2],) * 2
    interp = cv2.INTER_AREA if ch > out_hw[0] else cv2.INTER_LINEAR
    ref = cv2.resize(part, out_hw[::-1], interpolation=interp).astype(np.float32)
    if piece['place'] is not None:  # a thing: its square pasted at (y0, x0) via a padded canvas
        y0, x0, side = piece['place']
        pad = side + 1
        canvas = np.zeros((size[0] + 2 * pad, size[1] + 2 * pad, 3), np.float32)
        canvas[y0 + pad:y0 + pad + side, x0 + pad:x0 + pad + side] = ref
        ref = canvas[pad:pad + size[0], pad:pad + size[1]]
    return np.clip(np.rint(ref + piece['shift']), 0, 255).astype(np.uint8)


@pytest.mark.parametrize('seed', [0, 1, 2, 5])
def test_every_pixel_comes_from_its_class_photo(seed):
    """Re-crop each piece from its photo independently of the renderer: the image equals it
    on the piece's pixels and the label there is the piece's class."""
    size = (64, 96)
    img, lab, src = _scene(seed, size, return_sources=True)
    photos = load_photos()
    piece_map = src['piece_map']
    assert piece_map.min() >= 0 and piece_map.max() < len(src['pieces'])
    for index, piece in enumerate(src['pieces']):
        mask = piece_map == index
        if not mask.any():
            continue
        assert set(np.unique(lab[mask]).tolist()) == {piece['ade_id']}
        ref = _reference_piece(photos[piece['ade_id']], piece, size)
        np.testing.assert_array_equal(img[mask], ref[mask])


def test_things_show_their_object_inside_the_blob_square():
    """A thing's crop is centred on its photo's object box (shift at most BOX_SHIFT of the
    box side, unless the photo's edge stops it), and its blob lies inside the square the
    crop is resized to; things keep their colours (no grey offset)."""
    from benchmarks.texture.scenes import BOX_SCALE, BOX_SHIFT

    size, things = (96, 128), 0
    for seed in range(10):
        _, _, src = _scene(seed, size, return_sources=True)
        for index, piece in enumerate(src['pieces']):
            if piece['place'] is None:
                assert piece['ade_id'] in STUFF_IDS
                continue
            assert piece['ade_id'] in THING_IDS or piece['ade_id'] == 0
            assert piece['shift'] == 0.0  # things keep their colours
            ys, xs = np.nonzero(src['piece_map'] == index)
            y0, x0, side = piece['place']
            if len(ys):
                assert ys.min() >= y0 and ys.max() < y0 + side
                assert xs.min() >= x0 and xs.max() < x0 + side
            if piece['ade_id'] == 0:
                continue
            things += 1
            top, left, bottom, right = OBJECT_BOXES[piece['ade_id']]
            full = min(bottom - top, right - left)
            ch, cw = piece['crop_hw']
            assert ch == cw and BOX_SCALE[0] * full - 1 <= ch <= BOX_SCALE[1] * full + 1
            ph, pw = load_photos()[piece['ade_id']].shape[:2]
            for lo, extent, box_lo, box_hi in ((piece['top'], ph, top, bottom),
                                               (piece['left'], pw, left, right)):
                centre, box_centre = lo + ch / 2, (box_lo + box_hi) / 2
                at_edge = lo == 0 or lo + ch == extent
                assert at_edge or abs(centre - box_centre) <= BOX_SHIFT * full + 1
    assert things >= 10


def test_thing_photos_are_colour_photos_with_an_object_box_inside():
    photos = load_photos()
    for s in SOURCES:
        assert (s.box is not None) == (s.role == 'thing'), s
        if s.role != 'thing':
            continue
        p = photos[s.ade_id].astype(np.int16)
        top, left, bottom, right = s.box
        assert 0 <= top < bottom <= p.shape[0] and 0 <= left < right <= p.shape[1], s
        chroma = (p.max(axis=2) - p.min(axis=2))[top:bottom, left:right].mean()
        assert chroma > 20, (s.path, chroma)  # a grey photo has 0


def test_place_piece_cuts_off_what_lies_past_the_canvas():
    rng = np.random.default_rng(0)
    piece = rng.random((7, 7, 3)).astype(np.float32)
    for y0, x0 in [(0, 0), (-3, 2), (5, -6), (8, 12), (-7, 0), (20, 3)]:
        out = place_piece(piece, y0, x0, (10, 14))
        ref = np.zeros((10 + 48, 14 + 48, 3), np.float32)  # pad 24 on every side
        ref[y0 + 24:y0 + 31, x0 + 24:x0 + 31] = piece
        np.testing.assert_array_equal(out, ref[24:34, 24:38])


def test_sizes_it_cannot_draw_are_refused():
    for bad in [(MIN_SIZE - 1, 64), (64, 8), (64.5, 64), (64,), 'big']:
        with pytest.raises(ValueError, match=str(MIN_SIZE) + '|size must be'):
            _scene(0, bad)
    img, _ = _scene(0, (MIN_SIZE, 300))  # the minimum and a side longer than some photos' side
    assert img.shape == (MIN_SIZE, 300, 3)


def test_spearman_averages_ties_and_is_nan_on_constants():
    a = np.array([1.0, 1.0, 2.0, 3.0])
    b = np.array([1.0, 2.0, 2.0, 3.0])
    # tie-averaged ranks (1.5, 1.5, 3, 4) and (1, 2.5, 2.5, 4): Pearson of those
    ra, rb = np.array([1.5, 1.5, 3, 4]), np.array([1, 2.5, 2.5, 4])
    assert spearman(a, b) == pytest.approx(np.corrcoef(ra, rb)[0, 1], rel=1e-12)
    assert np.isnan(spearman(np.ones(4), b)) and np.isnan(spearman([1.0], [2.0]))


def test_rule_agreement_on_a_constructed_scene():
    """Left half: one textured class; right half: two flat classes meeting in every region.
    Low entropy and low std then rank exactly against uniformity (-1)."""
    rng = np.random.default_rng(0)
    img = np.zeros((64, 128, 3), np.uint8)
    img[:, :64] = np.tile(rng.integers(0, 256, (32, 32, 1)), (2, 2, 3))  # one patch, tiled
    img[:, 64:] = 120
    lab = np.full((64, 128), 10, np.uint8)
    lab[:, 64:] = 1
    lab[::2, 64:] = 3  # stripes: every right-hand region holds two classes
    out = rule_agreement([(img, lab)])
    assert out['spearman_low_entropy'] == pytest.approx(-1.0)
    assert out['spearman_low_std'] == pytest.approx(-1.0)
    assert out['uniform_share'] == pytest.approx(0.5)
    assert out['num_images'] == 1 and out['images_counted_entropy'] == 1


def test_make_texture_set_writes_the_ade20k_layout(tmp_path):
    from benchmarks.texture.make_texture_set import main

    main(['--root', str(tmp_path), '--num-train', '2', '--num-val', '1', '--size', '32', '48'])
    base = tmp_path / 'ADEChallengeData2016'
    for split, tag, n in (('training', 'train', 2), ('validation', 'val', 1)):
        for i in range(1, n + 1):
            img = cv2.imread(str(base / 'images' / split / f'ADE_{tag}_{i:08d}.jpg'))
            lab = cv2.imread(str(base / 'annotations' / split / f'ADE_{tag}_{i:08d}.png'),
                             cv2.IMREAD_UNCHANGED)
            assert img.shape == (32, 48, 3) and lab.shape == (32, 48)
            assert set(np.unique(lab).tolist()) <= set(TEXTURE_CLASSES) | {0}
    with pytest.raises(SystemExit):
        main(['--root', str(tmp_path / 'small'), '--size', '16', '64'])
    assert not (tmp_path / 'small').exists()


def test_a_set_of_an_older_design_is_not_reused(tmp_path):
    """The set name carries the design's version: a set written under another name is
    refused (not silently taken as this design's), and nothing of it is lost."""
    from benchmarks.texture.make_texture_set import NAME, main
    from msvit_mm.datasets.ade20k_writer import write_ade20k_set

    assert NAME == 'texture-v3'
    write_ade20k_set(str(tmp_path), render_texture_scene, TEXTURE_CLASSES, 'texture-v2',
                     1, 1, (32, 32), 0, min_size=MIN_SIZE)
    img = tmp_path / 'ADEChallengeData2016' / 'images' / 'training' / 'ADE_train_00000001.jpg'
    before = img.read_bytes()
    with pytest.raises(FileExistsError, match='texture-v2'):
        main(['--root', str(tmp_path), '--num-train', '1', '--num-val', '1',
              '--size', '32', '32'])
    assert img.read_bytes() == before
