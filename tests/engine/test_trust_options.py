"""Options that cannot be misread: key prefixes, gate_iters, --resume, the loss check."""
import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

from msvit_mm.engine import cli, gate_schedule
from msvit_mm.engine.checkpoints import check_weights_fit, parse_prefixes
from msvit_mm.engine.finite_loss import FiniteLossHook, NonFiniteLossError
from msvit_mm.engine.gate_schedule import FreezeGateHook


def _model():
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))


def test_prefixes_a_string_is_one_prefix_anything_else_is_named():
    assert parse_prefixes('backbone.tokenizer.gate.', 'opt') == ('backbone.tokenizer.gate.',)
    assert parse_prefixes(['a.', 'b.'], 'opt') == ('a.', 'b.')
    assert parse_prefixes(('a.',), 'opt') == ('a.',) and parse_prefixes(None, 'opt') == ()
    for bad in (5, {'a.': 1}, ['a.', 3], [''], ''):
        with pytest.raises(TypeError, match='load_from_missing_ok'):
            parse_prefixes(bad, 'load_from_missing_ok')


def test_a_string_prefix_is_not_read_character_by_character():
    model = _model()
    state = {k: v for k, v in model.state_dict().items() if not k.startswith('1.')}
    # '1.bias' iterated as characters held '1', which let every '1.*' weight be missing
    with pytest.raises(ValueError, match=r"\['1.weight'\]"):
        check_weights_fit(model, {'state_dict': state}, 'ckpt.pth', missing_ok='1.bias')
    assert set(check_weights_fit(model, {'state_dict': state}, 'ckpt.pth', missing_ok='1.'))
    with pytest.raises(TypeError, match='load_from_missing_ok'):
        check_weights_fit(model, {'state_dict': state}, 'ckpt.pth', missing_ok=1,
                          option='load_from_missing_ok')


def test_command_line_prefix_reaches_the_check_as_one_prefix(tmp_path):
    from mmengine.config import DictAction
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    opts = parser.parse_args(['--cfg-options', 'load_from_missing_ok=backbone.']).cfg_options
    assert parse_prefixes(opts['load_from_missing_ok'], 'x') == ('backbone.',)


@pytest.mark.parametrize('bad', ['abc', None, float('nan'), float('inf'), -1, 2.5, True, '3'])
def test_freeze_gate_hook_refuses_gate_iters_by_name(bad):
    with pytest.raises(ValueError, match='gate_iters'):
        FreezeGateHook(gate_iters=bad)


def test_freeze_gate_hook_accepts_integers_and_warns_past_max_iters(monkeypatch):
    assert FreezeGateHook(3.0).gate_iters == 3 and FreezeGateHook(0).gate_iters == 0
    from tests.engine.test_gate_schedule import _model as segmentor
    logged = []
    monkeypatch.setattr(gate_schedule, 'print_log', lambda msg, **kw: logged.append(msg))
    runner = SimpleNamespace(model=segmentor(), iter=0, max_iters=10)
    FreezeGateHook(5).before_train(runner)
    assert not any('never frozen' in m for m in logged)
    FreezeGateHook(12).before_train(runner)
    assert any('gate_iters=12' in m and 'max_iters=10' in m and 'never frozen' in m
               for m in logged)


def test_other_engine_options_are_checked():
    from msvit_mm.engine.reproducible_resume import RNGStateHook
    for bad in ('5', 0, 2.5, True):
        with pytest.raises(ValueError, match='interval'):
            RNGStateHook(interval=bad)
    assert RNGStateHook(3).interval == 3 and RNGStateHook().interval is None
    runner = SimpleNamespace(cfg=Config(dict(load_from='x.pth', strict_load_from='no')))
    with pytest.raises(TypeError, match="strict_load_from must be True or False, got 'no'"):
        cli.check_load_from(runner)


def _cfg(work_dir, **kw) -> Config:
    return Config(dict(work_dir=str(work_dir), **kw))


def test_resume_prefers_the_work_dir_over_load_from(tmp_path):
    (tmp_path / 'iter_2.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    cfg = cli.resolve_resume(_cfg(tmp_path, load_from='stage1.pth'), 'auto')
    assert cfg.resume is True and cfg.load_from == str(tmp_path / 'iter_2.pth')
    cfg = cli.resolve_resume(_cfg(tmp_path, load_from='stage1.pth', resume=True))  # in config
    assert cfg.resume is True and cfg.load_from == str(tmp_path / 'iter_2.pth')
    cfg = cli.resolve_resume(_cfg(tmp_path, load_from='stage1.pth'), None)  # no --resume
    assert cfg.resume is False and cfg.load_from == 'stage1.pth'
    (tmp_path / 'last_checkpoint').write_text('/moved/away/iter_2.pth')  # the dir was moved
    cfg = cli.resolve_resume(_cfg(tmp_path, load_from='stage1.pth'), 'auto')
    assert cfg.resume is True and cfg.load_from == str(tmp_path / 'iter_2.pth')


def test_resume_with_nothing_to_resume_starts_from_load_from(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr('mmengine.logging.print_log', lambda msg, **kw: logged.append(msg))
    cfg = cli.resolve_resume(_cfg(tmp_path / 'empty', load_from='stage1.pth'), 'auto')
    assert cfg.resume is False and cfg.load_from == 'stage1.pth'
    assert any('nothing to resume' in m and str(tmp_path / 'empty') in m for m in logged)


def test_resume_path_must_be_a_checkpoint_file(tmp_path):
    ckpt = tmp_path / 'iter_4.pth'
    ckpt.write_bytes(b'')
    cfg = cli.resolve_resume(_cfg(tmp_path, load_from='stage1.pth'), str(ckpt))
    assert cfg.resume is True and cfg.load_from == str(ckpt)
    with pytest.raises(IsADirectoryError, match='is a directory.*iter_4.pth'):
        cli.resolve_resume(_cfg(tmp_path), str(tmp_path))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        cli.resolve_resume(_cfg(tmp_path), str(tmp_path / 'nope.pth'))


def _runner(it: int = 4):
    return SimpleNamespace(iter=it, work_dir='/some/work_dir')


def test_finite_loss_hook_stops_at_the_first_non_finite_loss():
    hook = FiniteLossHook()
    hook.before_train(_runner())
    hook.after_train_iter(_runner(), 0, outputs=dict(loss=torch.tensor(1.0), acc=torch.nan))
    for bad in (math.nan, math.inf):
        with pytest.raises(NonFiniteLossError, match=r'iteration 5.*decode.loss_ce=(nan|inf)'):
            hook.after_train_iter(_runner(), 0, outputs=dict(loss=torch.tensor(bad),
                                                             **{'decode.loss_ce': bad}))
    patient = FiniteLossHook(max_consecutive=2)
    patient.after_train_iter(_runner(), 0, outputs=dict(loss=torch.tensor(math.nan)))
    patient.after_train_iter(_runner(), 0, outputs=dict(loss=torch.tensor(1.0)))  # streak reset
    patient.after_train_iter(_runner(), 0, outputs=dict(loss=torch.tensor(math.nan)))
    with pytest.raises(NonFiniteLossError):
        patient.after_train_iter(_runner(), 0, outputs=dict(loss=torch.tensor(math.nan)))
    with pytest.raises(ValueError, match='max_consecutive'):
        FiniteLossHook(max_consecutive=0)


def test_train_tool_adds_the_loss_check_once():
    cfg = cli.add_finite_loss_hook(Config(dict(custom_hooks=[dict(type='RNGStateHook')])))
    assert [h['type'] for h in cfg.custom_hooks] == ['RNGStateHook', 'FiniteLossHook']
    assert len(cli.add_finite_loss_hook(cfg).custom_hooks) == 2
    amp = cli.add_finite_loss_hook(Config(dict(optim_wrapper=dict(type='AmpOptimWrapper'))))
    assert amp.custom_hooks[0]['max_consecutive'] > 1
    with pytest.raises(TypeError, match='custom_hooks must be a list'):
        cli.add_finite_loss_hook(Config(dict(custom_hooks=dict(type='RNGStateHook'))))


def test_load_from_missing_ok_from_the_command_line_cannot_let_the_backbone_go(tmp_path):
    """``--cfg-options load_from_missing_ok=backbone.tokenizer.gate.`` arrives as a string;
    read character by character it let a checkpoint without any backbone weight pass."""
    from mmseg.registry import MODELS

    from msvit_mm.analysis.loading import load_config
    from tests.tools.conftest import SMALL_CONFIG
    cfg = load_config(SMALL_CONFIG, {'load_from_missing_ok': 'backbone.tokenizer.gate.'})
    model = MODELS.build(cfg.model)
    heads_only = {k: v for k, v in model.state_dict().items() if not k.startswith('backbone.')}
    path = str(tmp_path / 'heads_only.pth')
    torch.save({'state_dict': heads_only}, path)
    cfg.load_from = path
    with pytest.raises(ValueError, match=r'missing from the checkpoint.*backbone\.') as err:
        cli.check_load_from(SimpleNamespace(cfg=cfg, model=model))
    assert path in str(err.value) and 'backbone.tokenizer.gate.' not in str(err.value)
    gate_less = {k: v for k, v in model.state_dict().items() if '.tokenizer.gate.' not in k}
    torch.save({'state_dict': gate_less}, path)
    cli.check_load_from(SimpleNamespace(cfg=cfg, model=model))  # the one prefix is allowed


def test_a_tested_checkpoint_must_hold_the_gate_whatever_load_from_missing_ok_says(tmp_path):
    """``tools/test.py`` sets ``load_from`` to the checkpoint under test: a stage-2 config's
    ``load_from_missing_ok`` (meant for starting from a gate-less ViT) must not let a gate-less
    file be tested with a randomly initialized gate."""
    from mmseg.registry import MODELS

    from msvit_mm.analysis.loading import load_config
    from tests.tools.conftest import SMALL_CONFIG
    cfg = load_config(SMALL_CONFIG, {'load_from_missing_ok': ['backbone.tokenizer.gate.']})
    model = MODELS.build(cfg.model)
    gate_less = {k: v for k, v in model.state_dict().items() if '.tokenizer.gate.' not in k}
    assert len(gate_less) < len(model.state_dict())
    path = str(tmp_path / 'gate_less.pth')
    torch.save({'state_dict': gate_less}, path)
    cfg.load_from = path
    runner = SimpleNamespace(cfg=cfg, model=model)
    cli.check_load_from(runner)  # training: the named gap is allowed
    with pytest.raises(ValueError, match=r'missing from the checkpoint.*tokenizer\.gate\.'):
        cli.check_load_from(runner, testing=True)
