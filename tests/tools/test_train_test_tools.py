"""tools/train.py, tools/test.py, tools/dist_train.sh and mmseg's own train.py, end to end."""
import glob
import os.path as osp

import mmseg
import pytest
import torch

from tests.helpers import assert_close_scaled, free_port

from .conftest import PYTHON, SMALL_CONFIG, quick_options, run_tool

pytestmark = pytest.mark.slow
# the model `trained` has (quick_options): testing it with the config's 6 layers is refused
SAME_MODEL = ['model.backbone.num_layers=4', 'model.backbone.out_indices=[0,1,2,3]']


def _weights(path: str) -> dict:
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


@pytest.fixture(scope='module')
def trained(tiny_data_root, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('train'))
    run_tool([PYTHON, 'tools/train.py', SMALL_CONFIG, '--work-dir', work, '--cfg-options',
              *quick_options(tiny_data_root)])
    return work


def test_train_writes_checkpoints_and_logs_gate(trained):
    assert osp.isfile(osp.join(trained, 'iter_2.pth'))
    assert osp.isfile(osp.join(trained, 'iter_4.pth'))
    ckpt = torch.load(osp.join(trained, 'iter_4.pth'), map_location='cpu', weights_only=False)
    assert any(k.startswith('backbone.tokenizer.gate.') for k in ckpt['state_dict'])
    scalars = ckpt['message_hub']['log_scalars']
    assert {'train/loss_gate_gbas', 'train/coarse_ratio', 'train/tokens_per_image'} <= set(scalars)


def test_resume_matches_uninterrupted_run(trained, tiny_data_root, tmp_path):
    run_tool([PYTHON, 'tools/train.py', SMALL_CONFIG, '--work-dir', str(tmp_path), '--resume',
              osp.join(trained, 'iter_2.pth'), '--cfg-options', *quick_options(tiny_data_root)])
    full, resumed = _weights(osp.join(trained, 'iter_4.pth')), _weights(
        osp.join(str(tmp_path), 'iter_4.pth'))
    assert full.keys() == resumed.keys()
    for key in full:
        assert_close_scaled(resumed[key], full[key], rel=1e-5, msg=key)
    # and the weights did move between iteration 2 and 4 (the comparison means something)
    mid = _weights(osp.join(trained, 'iter_2.pth'))
    assert not torch.equal(mid['decode_head.conv_seg.weight'], full['decode_head.conv_seg.weight'])


def test_test_tool_reports_miou(trained, tiny_data_root, tmp_path):
    proc = run_tool([PYTHON, 'tools/test.py', SMALL_CONFIG, osp.join(trained, 'iter_4.pth'),
                     '--work-dir', str(tmp_path), '--cfg-options',
                     f'test_dataloader.dataset.data_root={tiny_data_root}', *SAME_MODEL])
    assert 'mIoU' in proc.stdout + proc.stderr


@pytest.mark.parametrize('execution', ['auto', 'packed'])  # a learning gate, masked / packed
def test_dist_train_two_cpu_processes(tiny_data_root, tmp_path, execution):
    probe = str(tmp_path / 'probe')
    run_tool(['bash', 'tools/dist_train.sh', SMALL_CONFIG, '2', '--work-dir', str(tmp_path),
              '--cfg-options', *quick_options(tiny_data_root, max_iters=2, interval=2),
              'custom_imports.imports=[msvit_mm,tests.tools.probe_gate_loss]',
              f'model.backbone.execution={execution}'],
             env=dict(PYTHON=PYTHON, PORT=str(free_port()), MSVIT_PROBE_FILE=probe))
    # each rank has 2 images; the gate loss's ECDF runs over the global batch of 4
    for rank in (0, 1):
        with open(f'{probe}.{rank}') as f:
            assert [line.split() for line in f] == [['2', '4'], ['2', '4']]
    assert osp.isfile(osp.join(str(tmp_path), 'iter_2.pth'))
    logs = open(glob.glob(osp.join(str(tmp_path), '*', '*.log'))[0]).read()
    # mmengine's runtime environment report: two processes ('GPU number' is the world size)
    assert 'Distributed training: True' in logs and 'GPU number: 2' in logs
    assert 'loss_gate_gbas' in logs


def test_mmseg_own_train_tool_with_custom_imports(tiny_data_root, tmp_path):
    mmseg_train = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'train.py')
    run_tool([PYTHON, mmseg_train, SMALL_CONFIG, '--work-dir', str(tmp_path), '--cfg-options',
              *quick_options(tiny_data_root, max_iters=2, interval=2)])
    assert osp.isfile(osp.join(str(tmp_path), 'iter_2.pth'))


def test_dist_test_two_cpu_processes(trained, tiny_data_root, tmp_path):
    proc = run_tool(['bash', 'tools/dist_test.sh', SMALL_CONFIG, osp.join(trained, 'iter_4.pth'),
                     '2', '--work-dir', str(tmp_path), '--cfg-options',
                     f'test_dataloader.dataset.data_root={tiny_data_root}', *SAME_MODEL],
                    env=dict(PYTHON=PYTHON, PORT=str(free_port())))
    assert 'mIoU' in proc.stdout + proc.stderr
