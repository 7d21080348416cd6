"""The real-texture scene generator: deterministic, labels by construction, pixels from the photos."""
import numpy as np
import pytest

pytest.importorskip('skimage')
pytest.importorskip('sklearn')
cv2 = pytest.importorskip('cv2')

from benchmarks.texture.region_stats import rule_agreement, spearman  # noqa: E402
from benchmarks.texture.scenes import MIN_SIZE, render_texture_scene  # noqa: E402
from benchmarks.texture.sources import (SOURCES, STUFF_IDS, TEXTURE_CLASSES,  # noqa: E402
                                        THING_IDS, load_photos, source_path)


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
        (ch, cw), top, left = piece['crop_hw'], piece['top'], piece['left']
        part = photos[piece['ade_id']][top:top + ch, left:left + cw]
        assert part.shape[:2] == (ch, cw)  # the crop lies inside the photo
        part = np.ascontiguousarray(part[:, ::-1] if piece['flip'] else part)
        interp = cv2.INTER_AREA if ch > size[0] else cv2.INTER_LINEAR
        ref = cv2.resize(part, size[::-1], interpolation=interp).astype(np.float32)
        ref = np.clip(np.rint(ref + piece['shift']), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(img[mask], ref[mask])


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
