"""The gate benchmark's bookkeeping: run groups, rows, targets, data statistics, and the
committed reports regenerated from their JSON."""
import os.path as osp

import numpy as np
import pytest

from benchmarks.gate import report, runner
from benchmarks.gate.synthetic_benchmark import (BENCHMARK_STYLES, CEILING, WALL,
                                                 make_synthetic_benchmark,
                                                 render_benchmark_scene)
from msvit_mm.datasets.synthetic_ade20k import make_synthetic_ade20k
from tests.helpers import ROOT, load_module


def test_run_groups():
    names = runner.run_names()
    assert names[0] == runner.STAGE1 == 'stage1-vit-t16' and len(names) == 12
    levers = runner.run_names(('benchmark', 'lever'))
    assert levers[:12] == names and len(levers) == 31


def _result(miou, gmacs, learned=False, own=None):
    res = dict(learned=learned, stats=dict(mIoU=miou, gmacs_mean=gmacs, tokens_mean=40.0,
                                           coarse_ratio_mean=0.5, params_m=1.4, num_images=10))
    if learned:
        res['calibration'] = dict(threshold=0.42)
    if own is not None:
        res['gate_quality'] = dict(rows=[dict(budget='own', learned=own[0], random=own[1])])
    return res


def test_targets_met_and_missed():
    results = {'vit-t32': _result(40.0, 0.04), 'vit-t16-continued': _result(60.0, 0.08),
               'random-coarse0.5': _result(50.0, 0.06),
               'entropy-coarse0.5': _result(53.0, 0.06),
               'target0.5-gbas-weight5': _result(55.0, 0.0605, learned=True, own=(55.0, 51.0))}
    rows = report.rows_of(results)
    assert rows[-2]['run'] == 'target0.5-gbas-weight5 (t=0.420)' and rows[-2]['kind'] == 'msvit'
    lines = report.target_checks(rows, results)
    assert lines[0].startswith('- [met] MSViT t0.5 vs random 0.5: +5.00')
    assert lines[1].startswith('- [met] MSViT t0.5 vs entropy 0.5: +2.00 mIoU at 0.8%')
    assert lines[2].startswith('- [missed] MSViT t0.5 vs ViT/16 continued: -5.00')
    assert lines[3].startswith('- [met] fixed MSViT t0.5, learned vs random decisions')
    # the chord from ViT/32 (0.04, 40) to ViT/16 (0.08, 60) is 50.25 at 0.0605 GMACs
    assert lines[4] == ('- [met] target0.5-gbas-weight5 (t=0.420) vs the ViT/32-ViT/16 line at '
                        'its GMACs: +4.75 mIoU (target > 0)')
    assert report.target_checks(rows[:2], results) == ['(not all runs are there)']


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
    share = report.uniform_region_share(made['data_root'])
    assert share['num_images'] == 4 and 0.0 <= share['min'] <= share['mean'] <= share['max'] <= 1
    with pytest.raises(FileExistsError, match='style'):  # another renderer: another set
        make_synthetic_ade20k(str(tmp_path), num_train=2, num_val=4, size=(64, 64))
    with pytest.raises(ValueError, match='at least 4x4'):
        make_synthetic_benchmark(str(tmp_path / 'small'), num_train=1, num_val=1, size=(3, 300))


@pytest.mark.parametrize('doc', ['gate_benchmark', 'gate_levers'])
def test_committed_report_is_regenerated_from_its_json(doc, tmp_path):
    """``run.py --from-json`` writes the committed markdown again, byte for byte."""
    tool = load_module(osp.join(ROOT, 'benchmarks/gate/run.py'), f'gate_run_{doc}')
    out = tmp_path / f'{doc}.md'
    tool.main(['--from-json', osp.join(ROOT, 'docs', f'{doc}.json'), '--out-md', str(out),
               '--out-png', ''])
    with open(osp.join(ROOT, 'docs', f'{doc}.md'), encoding='utf-8') as f:
        committed = f.read()
    regenerated = out.read_text(encoding='utf-8')
    # the png link is the one line that depends on --out-png
    assert regenerated == committed.replace(f'![mIoU vs GMACs]({doc}.png)\n\n', '')
