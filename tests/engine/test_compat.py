"""The compatibility fixes: custom_imports registration, Runner checkpoints on torch >= 2.6."""
import os.path as osp
import pickle
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader
from torch.utils.data import Dataset

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

BUILD = textwrap.dedent('''
    import sys
    from mmengine.config import Config
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    assert 'msvit_mm' not in sys.modules
    cfg = Config.fromfile(sys.argv[1])
    tok = MODELS.build(dict(type='MixedScaleTokenizer',
                            gate=dict(type='MLPGate', hidden_dims=(4,))))
    print(type(tok).__module__)
''')


@pytest.mark.parametrize('with_import', [True, False])
def test_custom_imports_registers_our_modules(tmp_path, with_import):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("custom_imports = dict(imports=['msvit_mm'], allow_failed_imports=False)\n"
                   if with_import else 'x = 1\n')
    proc = subprocess.run([sys.executable, '-c', BUILD, str(cfg)], capture_output=True,
                          text=True, cwd=str(tmp_path))
    if with_import:
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.strip().endswith('mixed_scale_tokenizer')
    else:  # the negative control: without custom_imports mmseg cannot find the type
        assert proc.returncode != 0 and 'MixedScaleTokenizer' in proc.stderr


class _Toy(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs))
        return dict(loss=out.pow(2).mean()) if mode == 'loss' else out


class _Data(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.full((2,), float(i)))


def test_runner_checkpoint_loads_for_resume(tmp_path, monkeypatch):
    monkeypatch.delenv('MSVIT_TRUST_CHECKPOINTS', raising=False)  # no opt-in needed
    runner = Runner(model=_Toy(), work_dir=str(tmp_path),
                    train_dataloader=dict(dataset=_Data(), batch_size=2,
                                          sampler=dict(type='DefaultSampler', shuffle=False)),
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                    train_cfg=dict(by_epoch=False, max_iters=2),
                    default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2,
                                                       by_epoch=False)),
                    default_scope='mmengine')
    runner.train()
    path = osp.join(str(tmp_path), 'iter_2.pth')
    # torch's default (weights_only=True) refuses mmengine's message hub: the bug we fix
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert ckpt['meta']['iter'] == 2 and 'message_hub' in ckpt
    runner2 = Runner(model=_Toy(), work_dir=str(tmp_path / 'resume'),
                     train_dataloader=dict(dataset=_Data(), batch_size=2,
                                           sampler=dict(type='DefaultSampler', shuffle=False)),
                     optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                     train_cfg=dict(by_epoch=False, max_iters=4), default_scope='mmengine')
    runner2.resume(path)
    assert runner2.iter == 2


def test_missing_and_corrupted_checkpoints_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'nope.pth'))
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'not a checkpoint')
    with pytest.raises(RuntimeError, match='bad.pth'):
        CheckpointLoader.load_checkpoint(str(bad))
