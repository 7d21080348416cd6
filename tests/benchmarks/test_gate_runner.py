"""The gate benchmark's bookkeeping: run groups, rows, targets, data statistics, and the
committed reports regenerated from their JSON."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmseg.registry import MODELS

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


def test_run_plan_trains_once_and_names_the_log_of_a_failure(tmp_path):
    ckpt = tmp_path / 'run' / 'iter_300.pth'
    plan = dict(name='run', checkpoint=str(ckpt), log=str(tmp_path / 'run.log'),
                cmd=['python', '-c', f"import os; os.makedirs('{ckpt.parent}', exist_ok=True); "
                     f"open('{ckpt}', 'w').write('x'); print('trained')"])
    logs = []
    assert runner.run_plan(plan, str(tmp_path), logs.append) == str(ckpt)
    assert (tmp_path / 'run.log').read_text().strip() == 'trained'
    assert runner.run_plan(dict(plan, cmd=['false']), str(tmp_path), logs.append) == str(ckpt)
    assert logs[-1] == 'done: run'  # the checkpoint exists: not trained again
    with pytest.raises(RuntimeError, match='run.log'):
        runner.run_plan(dict(plan, checkpoint=str(tmp_path / 'other.pth'), cmd=['false']),
                        str(tmp_path), logs.append)


def test_evaluate_a_learned_run_from_its_written_config(tmp_path, tiny_data_root):
    """A learned run's evaluation: calibrated to its target, gate quality, the study; cached."""
    name, root = 'target0.5-gbas-weight1', str(tmp_path)
    path = runner.write_config(name, root)
    cfg = Config.fromfile(path)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = tiny_data_root
    cfg.model.backbone.num_layers, cfg.model.backbone.out_indices = 4, [0, 1, 2, 3]
    cfg.dump(path)
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    torch.save(dict(state_dict=model.state_dict(), meta=dict()),
               osp.join(root, name, 'iter_300.pth'))
    out = runner.evaluate(name, root, num_images=2, log=lambda _: None)
    assert out['learned'] and out['target'] == 0.5 and out['stats']['num_images'] == 2
    assert abs(out['calibration']['coarse_ratio'] - 0.5) <= 1 / 64  # 16 images x 16 regions
    assert out['gate_quality']['num_images'] == 2
    assert set(out['straight_through']) == {'all_coarse', 'all_fine'}
    assert runner.evaluate(name, root, log=pytest.fail) == out  # cached: nothing recomputed
