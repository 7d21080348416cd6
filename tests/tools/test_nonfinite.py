"""Non-finite weights are refused on every load path, naming the first keys, and leave the
files as they were; a training whose loss turns NaN stops without writing a checkpoint."""
import glob
import hashlib
import os.path as osp

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader

from msvit_mm.engine.checkpoints import (NonFiniteCheckpointError, load_checkpoint_file,
                                         load_weights_strict)
from tests.helpers import ROOT, load_module

from .conftest import PYTHON, SMALL_CONFIG, quick_options
from .test_strict_and_inference import LAYERS4, _fails, _random_checkpoint


def _digest(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope='module')
def nan_ckpt(tmp_path_factory) -> tuple:
    """(path, first poisoned key): the small config's model (4 layers) with NaN gate weights
    and one Inf in the decode head."""
    path = _random_checkpoint(str(tmp_path_factory.mktemp('nan') / 'nan_gate.pth'))
    ckpt = torch.load(path, weights_only=False)
    state = ckpt['state_dict']
    gate = [k for k in state if '.gate.' in k and state[k].is_floating_point()]
    for key in gate:
        state[key] = torch.full_like(state[key], float('nan'))
    state['decode_head.conv_seg.bias'][0] = float('inf')
    torch.save(ckpt, path)
    return path, gate[0]


def _names(err, path: str, key: str) -> None:
    msg = str(err.value)
    assert path in msg and key in msg and 'NaN or Inf' in msg, msg


def test_every_reader_refuses_non_finite_weights(nan_ckpt):
    path, key = nan_ckpt
    digest = _digest(path)
    with pytest.raises(NonFiniteCheckpointError) as err:
        load_checkpoint_file(path)
    _names(err, path, key)
    with pytest.raises(NonFiniteCheckpointError) as err:  # load_from, --resume, tools/test.py
        CheckpointLoader.load_checkpoint(path, map_location='cpu')
    _names(err, path, key)
    with pytest.raises(NonFiniteCheckpointError) as err:  # the analysis tools, calibration
        load_weights_strict(torch.nn.Linear(1, 1), path)
    _names(err, path, key)
    assert _digest(path) == digest


def test_pretrained_and_converter_refuse_non_finite_weights(tmp_path):
    from mmseg.models.backbones import VisionTransformer

    from msvit_mm.models.backbones import MSViT
    small = dict(img_size=64, embed_dims=32, num_layers=1, num_heads=2)
    state = VisionTransformer(**small).state_dict()
    key = next(k for k in state if k.startswith('layers.0.') and state[k].is_floating_point())
    state[key] = torch.full_like(state[key], float('inf'))
    src = str(tmp_path / 'inf_vit.pth')
    torch.save({'state_dict': state}, src)
    model = MSViT(**small, gate=dict(type='MLPGate', hidden_dims=(8,)),
                  init_cfg=dict(type='Pretrained', checkpoint=src))
    with pytest.raises(NonFiniteCheckpointError) as err:
        model.init_weights()
    _names(err, src, key)
    tool = load_module(osp.join(ROOT, 'tools', 'model_converters', 'vit2msvit.py'), 'vit2msvit')
    with pytest.raises(NonFiniteCheckpointError) as err:
        tool.main([src, str(tmp_path / 'out.pth')])
    _names(err, src, key)
    assert not osp.exists(tmp_path / 'out.pth')


def test_calibration_refuses_non_finite_weights_and_writes_nothing(nan_ckpt, tiny_data_root,
                                                                   tmp_path):
    path, key = nan_ckpt
    tool = load_module(osp.join(ROOT, 'tools', 'analysis_tools', 'calibrate_gate.py'), 'calib')
    out = str(tmp_path / 'calib.json')
    with pytest.raises(NonFiniteCheckpointError) as err:
        tool.main([SMALL_CONFIG, path, '--target', '0.5', '--json', out, '--cfg-options',
                   f'train_dataloader.dataset.data_root={tiny_data_root}',
                   f'val_dataloader.dataset.data_root={tiny_data_root}', *LAYERS4])
    _names(err, path, key)
    assert not osp.exists(out)


def test_calibration_never_prints_a_nan_threshold(monkeypatch, tmp_path, capsys):
    tool = load_module(osp.join(ROOT, 'tools', 'analysis_tools', 'calibrate_gate.py'), 'calib2')
    monkeypatch.setattr(tool, 'load_config', lambda *a: None)
    from types import SimpleNamespace

    from msvit_mm.models.gates import MLPGate
    model = SimpleNamespace(backbone=SimpleNamespace(tokenizer=SimpleNamespace(
        gate=MLPGate(hidden_dims=(8,)))))
    monkeypatch.setattr(tool, 'build_model', lambda *a: model)
    monkeypatch.setattr(tool, 'build_train_images', lambda *a: None)
    monkeypatch.setattr(tool, 'calibrate', lambda *a: dict(
        threshold=float('nan'), coarse_ratio=float('nan'), coarse_ratio_at_default=0.0,
        num_images=2))
    out = str(tmp_path / 'c.json')
    with pytest.raises(SystemExit, match='threshold, coarse_ratio not finite'):
        tool.main(['cfg.py', 'ckpt.pth', '--target', '0.5', '--json', out])
    assert 'nan' not in capsys.readouterr().out and not osp.exists(out)


@pytest.mark.slow
def test_test_tool_refuses_non_finite_weights(nan_ckpt, tiny_data_root, tmp_path):
    path, key = nan_ckpt
    digest = _digest(path)
    proc = _fails([PYTHON, 'tools/test.py', SMALL_CONFIG, path, '--work-dir', str(tmp_path),
                   '--cfg-options', f'test_dataloader.dataset.data_root={tiny_data_root}',
                   *LAYERS4])
    assert key in proc.stderr and 'NaN or Inf' in proc.stderr
    assert 'Iter(test)' not in proc.stdout + proc.stderr and _digest(path) == digest


@pytest.mark.slow
def test_training_stops_when_the_loss_turns_nan(tiny_data_root, tmp_path):
    proc = _fails([PYTHON, 'tools/train.py', SMALL_CONFIG, '--work-dir', str(tmp_path),
                   '--cfg-options', *quick_options(tiny_data_root, max_iters=2, interval=1),
                   'model.decode_head.loss_decode.loss_weight=nan'])
    assert 'NonFiniteLossError' in proc.stderr and 'iteration 1' in proc.stderr
    assert 'decode.loss_ce=nan' in proc.stderr
    assert not glob.glob(osp.join(str(tmp_path), '*.pth'))
