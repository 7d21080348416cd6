"""The gate benchmark's bookkeeping: run names, rows, targets, data statistics."""
import os.path as osp

import numpy as np
import pytest

from msvit_mm.analysis import gate_benchmark as gb
from msvit_mm.datasets.synthetic_ade20k import make_synthetic_ade20k
from msvit_mm.datasets.synthetic_benchmark import (BENCHMARK_STYLES, CEILING, WALL,
                                                   make_synthetic_benchmark,
                                                   render_benchmark_scene)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_every_run_has_a_config():
    for name in gb.run_names(levers=True):
        assert osp.isfile(osp.join(REPO, gb.CONFIG_DIR, name + '.py')), name
    assert gb.run_names()[0] == gb.STAGE1 and len(gb.run_names()) == 1 + len(gb.STAGE2)


def _result(name, miou, gmacs, learned=False, own=None):
    res = dict(run=name + gb.STAGE2_SUFFIX, learned=learned,
               stats=dict(mIoU=miou, gmacs_mean=gmacs, tokens_mean=40.0,
                          coarse_ratio_mean=0.5, params_m=1.4, num_images=10))
    if learned:
        res['calibration'] = dict(threshold=0.42)
    if own is not None:
        res['gate_quality'] = dict(rows=[dict(budget='own', learned=own[0], random=own[1])])
    return res


def test_targets_met_and_missed():
    results = {r['run']: r for r in [
        _result('vit-t32', 40.0, 0.04), _result('vit-t16-cont', 60.0, 0.08),
        _result('random-0.5', 50.0, 0.06), _result('entropy-0.5', 53.0, 0.06),
        _result('msvit-t-t0.5', 55.0, 0.0605, learned=True, own=(55.0, 51.0))]}
    rows = [gb.table_row(r) for r in results.values()]
    assert rows[-1]['run'] == 'msvit-t-t0.5 (t=0.420)' and rows[-1]['kind'] == 'msvit'
    lines = gb.target_checks(rows, results)
    assert lines[0].startswith('- [met] MSViT t0.5 vs random 0.5: +5.00')
    assert lines[1].startswith('- [met] MSViT t0.5 vs entropy 0.5: +2.00 mIoU at 0.8%')
    assert lines[2].startswith('- [missed] MSViT t0.5 vs ViT/16 continued: -5.00')
    assert lines[3].startswith('- [met] fixed MSViT t0.5, learned vs random decisions')
    # the chord from ViT/32 (0.04, 40) to ViT/16 (0.08, 60) is 50.25 at 0.0605 GMACs
    assert lines[4] == ('- [met] msvit-t-t0.5 (t=0.420) vs the ViT/32-ViT/16 line at its '
                        'GMACs: +4.75 mIoU (target > 0)')
    assert gb.target_checks(rows[:2], results) == ['(not all runs are there)']


def test_benchmark_scenes_mix_texture_and_isoluminant_classes():
    wall, ceiling = BENCHMARK_STYLES[WALL], BENCHMARK_STYLES[CEILING]
    assert sum(wall.colour) == sum(ceiling.colour) and wall.colour != ceiling.colour
    textured = {s.name for s in BENCHMARK_STYLES.values() if s.texture != 'smooth'}
    assert {'grass', 'tree', 'water', 'rug'} <= textured
    a = render_benchmark_scene(np.random.default_rng(3), (64, 96))
    b = render_benchmark_scene(np.random.default_rng(3), (64, 96))
    assert a[0].shape == (64, 96, 3) and a[1].shape == (64, 96)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_benchmark_style_set_and_its_statistics(tmp_path):
    made = make_synthetic_benchmark(str(tmp_path), num_train=2, num_val=4, size=(64, 64))
    share = gb.uniform_region_share(made['data_root'])
    assert share['num_images'] == 4 and 0.0 <= share['min'] <= share['mean'] <= share['max'] <= 1
    with pytest.raises(FileExistsError, match='style'):  # another style: another set
        make_synthetic_ade20k(str(tmp_path), num_train=2, num_val=4, size=(64, 64))
