"""The gate benchmark's configs: the bases build, every run of the table builds, its name says
what it trains, and the config written into its work dir is the run."""
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmseg.registry import MODELS

from benchmarks.gate import runner
from benchmarks.gate.configs.runs import OLD_NAMES, OLD_SUFFIX, RUNS, new_name

BASES = ['stage1.py', 'stage2.py', 'stage2_learned.py']
NAME = re.compile(r'target(?P<target>[\d.]+)-(?P<loss>gbas|rate)-weight(?P<weight>[\d.]+)'
                  r'(?P<levers>(-[a-z0-9.]+)*)')


def _build(cfg):
    cfg.model.pretrained = None
    return revert_sync_batchnorm(MODELS.build(cfg.model))


@pytest.mark.parametrize('base', BASES)
def test_bases_build_and_carry_no_gate(base):
    path = osp.join(runner.CONFIG_DIR, base)
    with open(path) as f:
        assert 'gate=' not in f.read().replace('gate_loss', '')  # the runs set the gate
    cfg = Config.fromfile(path)
    _build(cfg)
    assert cfg.train_dataloader.dataset.data_root == 'data/synthetic_bench/ADEChallengeData2016'


@pytest.mark.parametrize('name', list(RUNS))
def test_every_run_builds_with_its_gate(name, tmp_path):
    run = RUNS[name]
    cfg = runner.build_config(name, str(tmp_path))
    model = _build(cfg)
    assert type(model.backbone.tokenizer.gate).__name__ == run['gate']['type']
    assert cfg.model.backbone.gate.to_dict() == run['gate']
    assert cfg.work_dir == osp.join(str(tmp_path), name)
    if name == runner.STAGE1:
        assert cfg.train_cfg.max_iters == 800 and cfg.get('load_from') is None
        return
    stage1 = runner.build_config(runner.STAGE1, str(tmp_path))
    assert cfg.load_from == osp.join(str(tmp_path), runner.STAGE1,
                                     f'iter_{stage1.train_cfg.max_iters}.pth')
    assert cfg.train_cfg.max_iters == 300 and cfg.param_scheduler[-1].end == 300
    for key in ('embed_dims', 'num_layers', 'num_heads', 'out_indices'):
        assert cfg.model.backbone[key] == stage1.model.backbone[key]
    learned = model.backbone.tokenizer.gate.learned
    assert cfg.find_unused_parameters is (not learned)
    assert (cfg.model.gate_loss is not None) is learned


@pytest.mark.parametrize('name', [n for n in RUNS if n.startswith('target')])
def test_a_learned_run_trains_what_its_name_says(name, tmp_path):
    cfg = runner.build_config(name, str(tmp_path))
    match = NAME.fullmatch(name)
    assert match, name
    losses = cfg.model.gate_loss
    losses = losses if isinstance(losses, (list, tuple)) else [losses]
    main = losses[0]
    assert main.type == {'gbas': 'GeneralizedBatchShapingLoss',
                         'rate': 'TargetRateLoss'}[match['loss']]
    assert main.target_coarse_ratio == float(match['target'])
    assert main.loss_weight == float(match['weight'])
    levers = set(match['levers'].strip('-').split('-')) - {''}
    extra = {lo.type for lo in losses[1:]}
    assert ('within' in levers) == ('WithinImageShapingLoss' in extra)
    assert ('labelloss' in levers) == ('GateLabelLoss' in extra)
    assert ('packed' in levers) == (cfg.model.backbone.get('execution') == 'packed')
    assert ('finemean' in levers) == (cfg.model.backbone.get('packed_counterfactual')
                                      == 'fine_mean')
    assert ('seed1' in levers) == (cfg.randomness.seed == 1)
    hooks = {h['type'] for h in cfg.get('custom_hooks', [])}
    assert ('twophase' in levers) == ('FreezeGateHook' in hooks)
    gate = cfg.model.backbone.gate
    assert ('coarseonly' in levers) == (gate.get('estimator') == 'coarse_only')
    assert ('temperature0.5' in levers) == (gate.get('temperature') == 0.5)
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert ('gatelr100' in levers) == (keys['tokenizer.gate']['lr_mult'] == 100.0)
    assert ('gateonly' in levers) == (keys.get('decode_head', {}).get('lr_mult') == 0.0)
    known = {'within', 'labelloss', 'packed', 'finemean', 'seed1', 'twophase', 'coarseonly',
             'temperature0.5', 'gatelr100', 'gateonly'}
    assert levers <= known, levers - known


def test_the_written_config_is_the_run(tmp_path):
    name = 'target0.5-gbas-weight1-packed-seed1'
    path = runner.write_config(name, str(tmp_path))
    assert path == osp.join(str(tmp_path), name, name + '.py')
    written = Config.fromfile(path)
    assert written.to_dict() == runner.build_config(name, str(tmp_path)).to_dict()
    assert written.work_dir == osp.dirname(path)
    plan = runner.training_plan('/repo', name, str(tmp_path), python='py')
    assert plan['cmd'] == ['py', '/repo/tools/train.py', path]
    assert plan['checkpoint'] == osp.join(str(tmp_path), name, 'iter_300.pth')


def test_old_names_map_onto_the_table():
    assert len(OLD_NAMES) == 31 and len(set(OLD_NAMES.values())) == 31
    assert set(OLD_NAMES.values()) == set(RUNS)
    assert new_name('msvit-t-t0.5-w1-packed-seed1' + OLD_SUFFIX) == \
        'target0.5-gbas-weight1-packed-seed1'
    assert new_name('vit-t16_upernet_1xb8-800_synthetic-bench-128x128') == runner.STAGE1
    assert new_name('vit-t32') == 'vit-t32'


def test_unknown_run_is_named(tmp_path):
    with pytest.raises(KeyError, match='target0.5-gbas-weight9'):
        runner.build_config('target0.5-gbas-weight9', str(tmp_path))
