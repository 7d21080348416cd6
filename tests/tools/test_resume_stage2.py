"""Resuming the two-stage recipe: stage 2 starts from the stage-1 checkpoint (``load_from``),
is SIGKILLed between two checkpoints and resumed with ``--resume``: it must continue from
its own work dir (not restart from stage 1) and end bit-identical to the uninterrupted run,
with a learned gate and with a random one. ``--resume`` with nothing to resume says so."""
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
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')


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


def _start(cmd: list, **env) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=REPO, env=dict(ENV, **env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope='module')
def stage1(tiny_data_root, tmp_path_factory) -> str:
    """A stage-1 ViT (every region fine, no gate weights): a Runner checkpoint after 1
    iteration (mmengine's resume would take its optimizer, schedule and iteration)."""
    folder = tmp_path_factory.mktemp('stage1')
    cfg = _config(folder, 'stage1', SMALL, "dict(_delete_=True, type='FixedGate', coarse=False)",
                  'model.update(gate_loss=None)\nfind_unused_parameters = True\n')
    work = str(folder / 'work')
    run_tool([PYTHON, 'tools/train.py', cfg, '--work-dir', work, '--cfg-options',
              *quick_options(tiny_data_root, max_iters=1, interval=1)])
    return osp.join(work, 'iter_1.pth')


@pytest.mark.parametrize('gate', sorted(GATES))
def test_stage2_resumed_after_sigkill_is_bit_identical(gate, stage1, tiny_data_root, tmp_path):
    cfg = _config(tmp_path, f'stage2_{gate}', STAGE2, GATES[gate])
    options = ['--cfg-options', *quick_options(tiny_data_root, max_iters=4, interval=2),
               f'load_from={stage1}']
    full, killed = str(tmp_path / 'full'), str(tmp_path / 'killed')
    # side by side: the uninterrupted run (--resume in an empty work dir: it warns and starts
    # from load_from) and the run killed after iteration 3 (its last checkpoint: iteration 2)
    procs = [_start([PYTHON, 'tools/train.py', cfg, '--work-dir', full, '--resume', *options]),
             _start([PYTHON, 'tools/train.py', cfg, '--work-dir', killed, *options,
                     'custom_imports.imports=[msvit_mm,tests.tools.kill_at_iter]'],
                    MSVIT_KILL_AT='3')]
    (out_full, _), (out_killed, _) = [p.communicate(timeout=300) for p in procs]
    assert procs[0].returncode == 0, out_full[-3000:]
    assert 'nothing to resume in the work dir' in out_full and full in out_full
    assert f'starts from load_from={stage1}' in out_full
    assert procs[1].returncode == -9, out_killed[-3000:]
    assert osp.isfile(osp.join(killed, 'iter_2.pth'))
    assert not osp.exists(osp.join(killed, 'iter_4.pth'))
    # the user resumes with the same command (load_from still names stage 1)
    out = run_tool([PYTHON, 'tools/train.py', cfg, '--work-dir', killed, '--resume', *options])
    assert f"resuming {osp.join(killed, 'iter_2.pth')}" in out.stdout + out.stderr
    ref, got = _weights(osp.join(full, 'iter_4.pth')), _weights(osp.join(killed, 'iter_4.pth'))
    assert ref.keys() == got.keys()
    different = [k for k in ref if not torch.equal(ref[k], got[k])]
    assert not different, different[:5]
    # the comparison means something: stage 2 moved the weights away from stage 1
    start = _weights(stage1)
    assert not torch.equal(start['decode_head.conv_seg.weight'],
                           ref['decode_head.conv_seg.weight'])
