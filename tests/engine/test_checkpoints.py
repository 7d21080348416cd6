"""Checkpoints are read tensors-only: a pickle that runs code is refused, Runner checkpoints and
plain weights load, a checkpoint of another model is refused with the keys named."""
import os.path as osp

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader

from msvit_mm.engine.checkpoints import (TRUST_ENV, UnsafeCheckpointError, check_weights_fit,
                                         load_checkpoint_file, load_weights_strict)
from msvit_mm.models.backbones import MSViT
from tests.helpers import ROOT, load_module


class Evil:
    """Unpickling calls ``open(marker, 'w')``: the file appears if the pickle runs code."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, 'w')


@pytest.fixture
def evil(tmp_path, monkeypatch):
    """(checkpoint path, marker path): a weights file with a code-running payload."""
    monkeypatch.delenv(TRUST_ENV, raising=False)
    marker = str(tmp_path / 'pwned')
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {'pos_embed': torch.zeros(1)}, 'payload': Evil(marker)}, path)
    return path, marker


def _refused(err, path: str, marker: str) -> None:
    assert not osp.exists(marker), 'the pickle ran code'
    msg = str(err.value)
    assert path in msg and TRUST_ENV in msg and 'open' in msg


def test_loader_refuses_code_and_names_the_opt_in(evil):
    path, marker = evil
    with pytest.raises(UnsafeCheckpointError) as err:
        CheckpointLoader.load_checkpoint(path, map_location='cpu')
    _refused(err, path, marker)


def test_pretrained_backbone_refuses_code(evil):
    path, marker = evil
    model = MSViT(img_size=64, embed_dims=32, num_layers=1, num_heads=2,
                  gate=dict(type='MLPGate', hidden_dims=(8,)),
                  init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(UnsafeCheckpointError) as err:
        model.init_weights()
    _refused(err, path, marker)


def test_converter_refuses_code(evil, tmp_path):
    path, marker = evil
    tool = load_module(osp.join(ROOT, 'tools', 'model_converters', 'vit2msvit.py'), 'vit2msvit')
    with pytest.raises(UnsafeCheckpointError) as err:
        tool.main([path, str(tmp_path / 'out.pth')])
    _refused(err, path, marker)
    assert not osp.exists(tmp_path / 'out.pth')


def test_opt_in_unpickles_fully(evil, monkeypatch):
    path, marker = evil
    monkeypatch.setenv(TRUST_ENV, '1')
    ckpt = load_checkpoint_file(path)
    assert osp.exists(marker) and 'state_dict' in ckpt  # what the user vouched for


def test_plain_weights_load(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    path = str(tmp_path / 'w.pth')
    torch.save({'state_dict': {'a': torch.ones(2)}, 'meta': {'grid': [4, 4], 'x': None}}, path)
    assert torch.equal(load_checkpoint_file(path)['state_dict']['a'], torch.ones(2))


def _model():
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))


def test_check_weights_fit_names_missing_unexpected_and_shapes(tmp_path):
    model = _model()
    state = model.state_dict()
    assert set(check_weights_fit(model, {'state_dict': state}, 'ok.pth')) == set(state)
    # mmengine's DDP prefix is taken off, as mmengine does
    prefixed = {'module.' + k: v for k, v in state.items()}
    assert set(check_weights_fit(model, {'state_dict': prefixed}, 'ok.pth')) == set(state)
    other = dict(state)
    del other['0.weight']
    other['1.bias'] = torch.zeros(5)
    other['head.weight'] = torch.zeros(1)
    with pytest.raises(ValueError) as err:
        check_weights_fit(model, {'state_dict': other, 'meta': {}}, 'other.pth')
    msg = str(err.value)
    assert 'other.pth' in msg and "['0.weight']" in msg and "['head.weight']" in msg
    assert '1.bias: checkpoint [5] vs model [4]' in msg
    assert "holds top-level keys ['state_dict', 'meta']" in msg


def test_load_weights_strict(tmp_path):
    src, dst = _model(), _model()
    path = str(tmp_path / 'w.pth')
    torch.save({'state_dict': src.state_dict()}, path)
    load_weights_strict(dst, path)
    assert torch.equal(dst[0].weight, src[0].weight)
    torch.save({'state_dict': {'0.weight': src[0].weight}}, path)
    with pytest.raises(ValueError, match='missing from the checkpoint'):
        load_weights_strict(dst, path)
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_weights_strict(dst, str(tmp_path / 'nope.pth'))


class EvilGetattr:
    """``getattr`` is allowed for mmengine's HistoryBuffer statistics only."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return getattr, (HistoryBuffer, 'update')


def test_getattr_beyond_history_buffer_statistics_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    path = str(tmp_path / 'getattr.pth')
    torch.save({'x': EvilGetattr()}, path)
    with pytest.raises(UnsafeCheckpointError, match="HistoryBuffer.*'update'|'update'"):
        load_checkpoint_file(path)


def test_history_buffer_statistics_load_in_a_fresh_process(tmp_path, monkeypatch):
    """A resuming process has made no HistoryBuffer yet (its default statistics are registered
    by the first one); the message hub's ``getattr(HistoryBuffer, 'mean')`` still loads."""
    import subprocess
    import sys
    from mmengine.logging import HistoryBuffer
    monkeypatch.delenv(TRUST_ENV, raising=False)
    path = str(tmp_path / 'hub.pth')
    torch.save({'statistics_methods': {'mean': HistoryBuffer.mean, 'min': HistoryBuffer.min}},
               path)
    code = ('import sys; from msvit_mm.engine.checkpoints import load_checkpoint_file; '
            'print(sorted(load_checkpoint_file(sys.argv[1])["statistics_methods"]))')
    proc = subprocess.run([sys.executable, '-c', code, path], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("['mean', 'min']")
