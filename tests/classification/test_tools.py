"""Classification through tools/train.py, tools/test.py, get_flops.py and mmpretrain's own
train script (tiny data written here, 2 iterations, from a DeiT-style checkpoint)."""
import glob
import json
import os.path as osp
import sys

import pytest

pytest.importorskip('mmpretrain.models')

import mmpretrain  # noqa: E402
import torch  # noqa: E402

from tests.helpers import load_module  # noqa: E402
from tests.tools.conftest import PYTHON, REPO, run_tool  # noqa: E402

from .helpers import (as_timm, head_cfg, pretrain_classifier, write_images,  # noqa: E402
                      write_tiny_config)

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """(config, work dir of a 2-iteration run) started from a timm-named checkpoint."""
    tmp = tmp_path_factory.mktemp('cls')
    data = write_images(tmp / 'data')
    ref = pretrain_classifier(head=dict(head_cfg(), num_classes=3))
    torch.save({'model': as_timm(ref.state_dict())}, tmp / 'deit_tiny.pth')
    config = write_tiny_config(tmp, data, str(tmp / 'deit_tiny.pth'))
    work = str(tmp / 'work')
    proc = run_tool([PYTHON, 'tools/train.py', config, '--work-dir', work])
    return config, work, proc.stdout + proc.stderr


def test_train_loads_the_pretrained_head_and_logs_the_gate(setup):
    _, work, out = setup
    assert '(timm format)' in out and 'left at initialization: backbone.tokenizer.gate.' in out
    ckpt = torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu', weights_only=False)
    assert any(k.startswith('backbone.tokenizer.gate.') for k in ckpt['state_dict'])
    scalars = ckpt['message_hub']['log_scalars']
    assert {'train/loss_gate_gbas', 'train/coarse_ratio', 'train/tokens_per_image'} <= set(scalars)


def test_test_tool(setup, tmp_path, monkeypatch):
    """tools/test.py in this process (a subprocess costs more than the test)."""
    config, work, _ = setup
    tool = load_module(osp.join(REPO, 'tools/test.py'), 'test_tool_cls')
    monkeypatch.setenv('LOCAL_RANK', '0')  # the tool sets it; restored afterwards
    monkeypatch.setattr(sys, 'argv', ['test.py', config, osp.join(work, 'iter_2.pth'),
                                      '--work-dir', str(tmp_path)])
    tool.main()
    logs = glob.glob(str(tmp_path / '*' / '*.log'))
    assert logs and 'accuracy/top1' in open(logs[0]).read()


def test_get_flops_on_validation_images(setup, tmp_path):
    config, work, _ = setup
    out = str(tmp_path / 'flops.json')
    tool = load_module(osp.join(REPO, 'tools/analysis_tools/get_flops.py'), 'get_flops_cls')
    tool.main([config, osp.join(work, 'iter_2.pth'), '--num-images', '3', '--json', out])
    with open(out) as f:
        summary = json.load(f)
    assert summary['num_images'] == 3 and summary['input'] == 'val_images'
    per_image = summary['per_image']
    # the gate's real decisions on each image: its tokens and its count agree
    for r in per_image:
        coarse = round(r['coarse_ratio'] * 4)
        assert r['tokens'] == coarse + 4 * (4 - coarse)
    assert summary['breakdown']['heads'] > 0


def test_mmpretrain_own_train_script_with_custom_imports(setup, tmp_path):
    config, _, _ = setup
    script = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools', 'train.py')
    run_tool([PYTHON, script, config, '--work-dir', str(tmp_path)])
    assert osp.isfile(osp.join(str(tmp_path), 'iter_2.pth'))


def test_table_of_top1_against_gmacs(setup, tmp_path):
    _, work, _ = setup
    tool = load_module(osp.join(REPO, 'tools/analysis_tools/msvit_table.py'), 'msvit_table_cls')
    logged, = tool.main([work, '--out-md', str(tmp_path / 't.md'),
                         '--out-png', str(tmp_path / 't.png')])
    assert logged['metric'] == 'top1' and logged['miou_source'] == 'logged (step 2)'
    evaluated, = tool.main([work, '--thresholds', '0.5'])  # the gate's own threshold
    assert evaluated['miou_source'] == 'evaluated'
    assert evaluated['top1'] == pytest.approx(logged['top1'], abs=0.01)
    assert evaluated['gmacs'] == pytest.approx(logged['gmacs'])
    text = (tmp_path / 't.md').read_text()
    assert '| top-1 % |' in text and 'top-1: each run' in text
    assert (tmp_path / 't.png').stat().st_size > 0


def test_gate_pictures_of_a_classifier(setup, tmp_path):
    config, work, _ = setup
    tool = load_module(osp.join(REPO, 'tools/analysis_tools/visualize_gates.py'), 'vis_cls')
    data = osp.join(osp.dirname(work), 'data', 'val')
    images = [osp.join(data, 'disc', '0.png'), osp.join(data, 'bars', '1.png')]
    written = tool.main([config, osp.join(work, 'iter_2.pth'), *images,
                         '--out-dir', str(tmp_path)])
    import cv2
    for path in written:
        img = cv2.imread(path)
        assert img.shape[1] >= 64 and img.shape[0] > 64  # the 64x64 input and its caption
