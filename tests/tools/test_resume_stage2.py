"""Resuming the two-stage recipe: stage 2 starts from the stage-1 checkpoint (``load_from``),
is SIGKILLed between two checkpoints and resumed with ``--resume``: it must continue from
its own work dir (not restart from stage 1) and end bit-identical to the uninterrupted run,
with a learned gate and with a random one."""
import os
import os.path as osp
import subprocess

import pytest
import torch

from .conftest import PYTHON, REPO, quick_options, run_tool

pytestmark = pytest.mark.slow
STAGE2 = osp.join(REPO, 'configs/msvit/msvit-t-ft_upernet_1xb8-300_synthetic-ade20k-128x128.py')
SMALL = osp.join(REPO, 'configs/msvit/msvit-t_upernet_1xb8-800_synthetic-ade20k-128x128.py')
GATES = {'learned': None, 'random': "dict(_delete_=True, type='RandomGate', coarse_ratio=0.5)"}


def _config(folder, name: str, base: str, gate: str = None, extra: str = '') -> str:
    path = osp.join(str(folder), name + '.py')
    with open(path, 'w') as f:
        f.write(f'_base_ = [{base!r}]\n')
        if gate:
            f.write(f'model = dict(backbone=dict(gate={gate}))\n')
        f.write(extra)
    return path


def _weights(path: str) -> dict:
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


@pytest.fixture(scope='module')
def stage1(tiny_data_root, tmp_path_factory) -> str:
    """A stage-1 ViT (every region fine, no gate weights) trained 2 iterations."""
    folder = tmp_path_factory.mktemp('stage1')
    cfg = _config(folder, 'stage1', SMALL, "dict(_delete_=True, type='FixedGate', coarse=False)",
                  'model.update(gate_loss=None)\nfind_unused_parameters = True\n')
    work = str(folder / 'work')
    run_tool([PYTHON, 'tools/train.py', cfg, '--work-dir', work, '--cfg-options',
              *quick_options(tiny_data_root, max_iters=2, interval=2)])
    return osp.join(work, 'iter_2.pth')


@pytest.mark.parametrize('gate', sorted(GATES))
def test_stage2_resumed_after_sigkill_is_bit_identical(gate, stage1, tiny_data_root, tmp_path):
    cfg = _config(tmp_path, f'stage2_{gate}', STAGE2, GATES[gate])
    options = ['--cfg-options', *quick_options(tiny_data_root, max_iters=4, interval=2),
               f'load_from={stage1}']
    full, killed = str(tmp_path / 'full'), str(tmp_path / 'killed')
    run_tool([PYTHON, 'tools/train.py', cfg, '--work-dir', full, *options])
    proc = subprocess.run(
        [PYTHON, 'tools/train.py', cfg, '--work-dir', killed, *options,
         'custom_imports.imports=[msvit_mm,tests.tools.kill_at_iter]'],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, MSVIT_KILL_AT='3', OMP_NUM_THREADS='1',
                 PYTHONWARNINGS='ignore'))
    assert proc.returncode == -9, proc.stderr[-3000:]  # killed during iteration 4's run-up
    assert osp.isfile(osp.join(killed, 'iter_2.pth'))
    assert not osp.exists(osp.join(killed, 'iter_4.pth'))
    # the user resumes with the same command (load_from still names stage 1)
    out = run_tool([PYTHON, 'tools/train.py', cfg, '--work-dir', killed, '--resume', *options])
    assert 'iter_2.pth' in out.stdout + out.stderr  # resumed from its own checkpoint
    ref, got = _weights(osp.join(full, 'iter_4.pth')), _weights(osp.join(killed, 'iter_4.pth'))
    assert ref.keys() == got.keys()
    different = [k for k in ref if not torch.equal(ref[k], got[k])]
    assert not different, different[:5]
    # the comparison means something: stage 2 moved the weights away from stage 1
    start = _weights(stage1)
    assert not torch.equal(start['decode_head.conv_seg.weight'],
                           ref['decode_head.conv_seg.weight'])


def test_resume_with_nothing_to_resume_warns_naming_the_work_dir(tiny_data_root, tmp_path):
    work = str(tmp_path / 'empty_work')
    out = run_tool([PYTHON, 'tools/train.py', SMALL, '--work-dir', work, '--resume',
                    '--cfg-options', *quick_options(tiny_data_root, max_iters=1, interval=1)])
    text = out.stdout + out.stderr
    assert 'nothing to resume' in text and work in text
    assert osp.isfile(osp.join(work, 'iter_1.pth'))
