"""Tools refuse what they cannot do, naming the argument or the file, and touch nothing:
the converter's own input, sizes and counts of zero, shares outside [0, 1], a fixed gate
where gradients are compared, a folder given as a checkpoint, code in a pickle."""
import hashlib
import os
import os.path as osp

import pytest
import torch
from mmseg.models.backbones import VisionTransformer

from msvit_mm.engine.checkpoints import TRUST_ENV, UnsafeCheckpointError, load_checkpoint_file
from tests.helpers import ROOT, load_module

TOOLS = osp.join(ROOT, 'tools')


def _tool(path: str, name: str):
    return load_module(osp.join(TOOLS, path), name)


def _digest(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def training_ckpt(tmp_path) -> str:
    """A 'training checkpoint' (heads, optimizer, history) holding a ViT backbone."""
    vit = VisionTransformer(img_size=64, embed_dims=32, num_layers=1, num_heads=2)
    path = str(tmp_path / 'S.pth')
    torch.save({'state_dict': vit.state_dict(), 'optimizer': {'lr': 0.1}, 'meta': {'iter': 9}},
               path)
    return path


def test_converter_never_overwrites_its_input(training_ckpt, tmp_path):
    tool = _tool('model_converters/vit2msvit.py', 'vit2msvit_same')
    digest = _digest(training_ckpt)
    link = str(tmp_path / 'hard.pth')
    os.link(training_ckpt, link)
    sym = str(tmp_path / 'sym.pth')
    os.symlink(training_ckpt, sym)
    dotted = osp.join(str(tmp_path), 'sub', '..', 'S.pth')
    for dst in (training_ckpt, link, sym, dotted):
        with pytest.raises(ValueError, match='is the source checkpoint') as err:
            tool.main([training_ckpt, dst])
        assert dst in str(err.value) and training_ckpt in str(err.value)
    assert _digest(training_ckpt) == digest
    assert sorted(os.listdir(tmp_path)) == ['S.pth', 'hard.pth', 'sym.pth']


@pytest.mark.parametrize('argv, flag', [
    (['--img-size', '0'], '--img-size'), (['--img-size', '64', '64', '64'], '--img-size'),
    (['--img-size', '8'], 'patch size'), (['--patch-size', '0'], '--patch-size'),
    (['--source-grid', '0', '4'], '--source-grid')])
def test_converter_refuses_sizes(training_ckpt, tmp_path, capsys, argv, flag):
    tool = _tool('model_converters/vit2msvit.py', 'vit2msvit_sizes')
    with pytest.raises(SystemExit):
        tool.main([training_ckpt, str(tmp_path / 'out.pth'), *argv])
    assert flag in capsys.readouterr().err
    assert not osp.exists(tmp_path / 'out.pth')


def test_get_flops_refuses_an_empty_shape(capsys):
    tool = _tool('analysis_tools/get_flops.py', 'get_flops_shape')
    for shape in (['0', '0'], ['64', '-1']):
        with pytest.raises(SystemExit):
            tool.parse_args(['cfg.py', '--shape', *shape])
        assert '--shape H W must be positive' in capsys.readouterr().err
    assert tool.parse_args(['cfg.py', '--shape', '64', '32']).shape == [64, 32]


@pytest.mark.parametrize('argv, flag', [
    (['--repeats', '0'], '--repeats'), (['--threads', '0'], '--threads'),
    (['--ratios', '1.5'], '--ratios'), (['--spread', '-1'], '--spread'),
    (['--train-ratios', '-0.1'], '--train-ratios'), (['--warmup', '-1'], '--warmup'),
    (['--sizes', '0'], '--sizes'), (['--batches', '0'], '--batches')])
def test_benchmark_packed_refuses_counts_and_shares(capsys, argv, flag):
    tool = load_module(osp.join(ROOT, 'benchmarks', 'speed', 'benchmark_packed.py'), 'benchmark_packed_args')
    with pytest.raises(SystemExit):
        tool.parse_args(argv)
    assert flag in capsys.readouterr().err
    assert tool.parse_args(['--quick']).repeats == 3


def test_gate_quality_refuses_empty_or_outside_ratios(capsys):
    tool = _tool('analysis_tools/gate_quality.py', 'gate_quality_ratios')
    for argv in (['--ratios'], ['--ratios', '1.5'], ['--ratios', '-0.5', '0.5']):
        with pytest.raises(SystemExit):
            tool.parse_args(['cfg.py', 'w.pth', *argv])
        assert '--ratios' in capsys.readouterr().err
    assert tool.parse_args(['cfg.py', 'w.pth', '--ratios', '0', '1']).ratios == [0.0, 1.0]


class _Images:
    metainfo = dict(classes=('a', 'b'))

    def __init__(self, size):
        self.size = size

    def __len__(self):
        return 2

    def __getitem__(self, i):
        from mmseg.structures import SegDataSample
        sample = SegDataSample(metainfo=dict(img_path=f'img{i}.jpg'))
        return dict(inputs=torch.zeros(3, *self.size), data_samples=sample)


def test_gate_quality_refuses_images_smaller_than_a_region_and_notes_rounding():
    tool = _tool('analysis_tools/gate_quality.py', 'gate_quality_images')
    ok = tool.RegionSizedImages(_Images((32, 64)), 32)
    assert len(ok) == 2 and ok[1]['inputs'].shape == (3, 32, 64) and ok.metainfo
    with pytest.raises(ValueError, match=r'img1.jpg: 20x64 .* smaller than one 32x32 region'):
        tool.RegionSizedImages(_Images((20, 64)), 32)[1]
    rows = [dict(budget='own', coarse_ratio=0.0), dict(budget='0.5', coarse_ratio=0.0),
            dict(budget='0.25', coarse_ratio=0.25), dict(budget='0.75', coarse_ratio=1.0),
            dict(budget='0', coarse_ratio=0.0)]
    notes = tool.rounding_notes(dict(rows=rows))
    assert len(notes) == 2
    assert notes[0].startswith('budget 0.5: rounds to zero coarse regions')
    assert notes[1].startswith('budget 0.75: rounds to every region')


def test_gate_gradients_refuses_a_fixed_gate(monkeypatch):
    from types import SimpleNamespace
    tool = load_module(osp.join(ROOT, 'benchmarks', 'studies', 'gate_gradients.py'), 'gate_gradients_fixed')
    from msvit_mm.models.gates import FixedGate
    model = SimpleNamespace(backbone=SimpleNamespace(tokenizer=SimpleNamespace(
        gate=FixedGate(coarse=False))))
    monkeypatch.setattr(tool, 'load_config', lambda *a: None)
    monkeypatch.setattr(tool, 'build_model', lambda *a: model)
    with pytest.raises(SystemExit, match='FixedGate gate, not a learned one') as err:
        tool.main(['fixed.py', 'w.pth'])
    assert 'fixed.py' in str(err.value)


def test_a_folder_given_as_checkpoint_is_named_a_folder(tmp_path):
    from msvit_mm.engine.checkpoints import load_weights_strict
    from msvit_mm.models.backbones.pretrained import read_checkpoint
    (tmp_path / 'iter_4.pth').write_bytes(b'')
    converter = _tool('model_converters/vit2msvit.py', 'vit2msvit_folder')
    for load in (load_checkpoint_file, lambda p: load_weights_strict(torch.nn.Linear(1, 1), p),
                 read_checkpoint, lambda p: converter.main([p, str(tmp_path / 'out.pth')])):
        with pytest.raises(IsADirectoryError, match=r"is a directory.*\['iter_4.pth'\]"):
            load(str(tmp_path))
    assert os.listdir(tmp_path) == ['iter_4.pth']


class _System:
    def __reduce__(self):
        return os.system, ('true',)


def test_refused_pickle_keeps_torch_reason_and_names_the_opt_in_last(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    path = str(tmp_path / 'system.pth')
    torch.save({'state_dict': {}, 'x': _System()}, path)
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint_file(path)
    msg = str(err.value)
    assert path in msg and "torch's weights-only loader says" in msg
    assert 'posix.system' in msg and 'blocked' in msg  # torch's own reason
    assert msg.index('Convert it') < msg.index(TRUST_ENV)
