"""Tools refuse checkpoints of another model; mmseg's inference API, TTA and --show-dir work
with the small config; a failing rank's file name ends dist_train.sh's output."""
import glob
import os
import os.path as osp
import subprocess

import numpy as np
import pytest
import torch
from mmengine.config import Config

from tests.helpers import free_port

from .conftest import PYTHON, REPO, SMALL_CONFIG, quick_options, run_tool

pytestmark = pytest.mark.slow

LAYERS4 = ['model.backbone.num_layers=4', 'model.backbone.out_indices=[0,1,2,3]']


def _random_checkpoint(path: str) -> str:
    """{'state_dict', 'meta'} of the small config's model with 4 layers (as ``quick_options``
    and ``LAYERS4`` build it), random weights."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    cfg = Config.fromfile(SMALL_CONFIG)
    cfg.model.backbone.update(num_layers=4, out_indices=[0, 1, 2, 3])
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save(dict(state_dict=model.state_dict(), meta=dict(note='random')), path)
    return path


@pytest.fixture(scope='module')
def ckpt4(tmp_path_factory) -> str:
    return _random_checkpoint(str(tmp_path_factory.mktemp('ckpt') / 'layers4.pth'))


def _fails(args: list, env: dict = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1', **(env or {}))
    proc = subprocess.run(args, cwd=REPO, env=full_env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0, proc.stdout[-2000:]
    return proc


def test_test_tool_refuses_a_checkpoint_of_another_model(ckpt4, tiny_data_root, tmp_path):
    proc = _fails([PYTHON, 'tools/test.py', SMALL_CONFIG, ckpt4, '--work-dir', str(tmp_path),
                   '--cfg-options', f'test_dataloader.dataset.data_root={tiny_data_root}'])
    assert 'does not fit the model' in proc.stderr
    assert 'backbone.layers.4.' in proc.stderr and 'Iter(test)' not in proc.stdout + proc.stderr


def test_train_refuses_load_from_of_another_model_before_training(ckpt4, tiny_data_root,
                                                                     tmp_path):
    options = [o for o in quick_options(tiny_data_root) if 'num_layers' not in o
               and 'out_indices' not in o]
    proc = _fails([PYTHON, 'tools/train.py', SMALL_CONFIG, '--work-dir', str(tmp_path),
                   '--cfg-options', *options, f'load_from={ckpt4}'])
    assert 'does not fit the model' in proc.stderr and ckpt4 in proc.stderr
    assert not glob.glob(osp.join(str(tmp_path), 'iter_*.pth'))


def test_test_tool_tta_and_show_dir(ckpt4, tiny_data_root, tmp_path):
    shown = str(tmp_path / 'shown')
    proc = run_tool([PYTHON, 'tools/test.py', SMALL_CONFIG, ckpt4, '--work-dir', str(tmp_path),
                     '--tta', '--show-dir', shown, '--cfg-options',
                     # mmseg's hook asks runner.iter, which builds the train loader: its data
                     # must exist too; and it draws every 50th image by default
                     *quick_options(tiny_data_root), 'default_hooks.visualization.interval=1'])
    assert 'mIoU' in proc.stdout + proc.stderr
    assert len(glob.glob(osp.join(shown, '**', '*.png'), recursive=True)) == 4


def test_analysis_tools_refuse_a_checkpoint_of_another_model(ckpt4):
    from msvit_mm.analysis.loading import build_model, load_config
    with pytest.raises(ValueError, match='does not fit the model') as err:
        build_model(load_config(SMALL_CONFIG), ckpt4)
    assert 'backbone.layers.4.' in str(err.value)
    options = {'model.backbone.num_layers': 4, 'model.backbone.out_indices': [0, 1, 2, 3]}
    model = build_model(load_config(SMALL_CONFIG, options), ckpt4)
    want = torch.load(ckpt4, weights_only=True)['state_dict']['decode_head.conv_seg.weight']
    assert torch.equal(model.decode_head.conv_seg.weight, want)


def test_mmseg_inferencer_and_inference_model(tiny_data_root):
    """mmseg's own inference API on the small config (random weights)."""
    from mmseg.apis import MMSegInferencer, inference_model, init_model
    img = sorted(glob.glob(osp.join(tiny_data_root, 'images', 'validation', '*.jpg')))[0]
    inferencer = MMSegInferencer(model=SMALL_CONFIG, device='cpu')
    out = inferencer(img, return_datasamples=True)
    assert out.pred_sem_seg.data.shape == (1, 128, 128)
    model = init_model(SMALL_CONFIG, device='cpu')
    result = inference_model(model, img)
    assert result.pred_sem_seg.data.shape == (1, 128, 128)
    array = inference_model(model, np.zeros((128, 128, 3), np.uint8))
    assert array.pred_sem_seg.data.shape == (1, 128, 128)


def test_visualize_gates_threshold_must_be_a_probability(capsys):
    from tests.helpers import ROOT, load_module
    tool = load_module(osp.join(ROOT, 'tools', 'analysis_tools', 'visualize_gates.py'),
                       'visualize_gates_threshold')
    assert tool.parse_args(['c.py', 'w.pth', 'a.jpg', '--threshold', '0.3']).threshold == 0.3
    for bad in ('1.5', '-0.1', 'x'):
        with pytest.raises(SystemExit):
            tool.parse_args(['c.py', 'w.pth', 'a.jpg', '--threshold', bad])
        assert '--threshold' in capsys.readouterr().err


def test_dist_train_ends_with_the_failing_rank_and_its_file(tiny_data_root, tmp_path):
    """One rank reads a corrupt image, the other then loses its peer: the output's last lines
    name the file, not the other rank's 'Connection closed by peer'."""
    import shutil
    root = str(tmp_path / 'ADEChallengeData2016')
    shutil.copytree(tiny_data_root, root)
    bad = osp.join(root, 'images', 'training', 'ADE_train_00000003.jpg')
    with open(bad, 'wb') as f:
        f.write(b'corrupt')
    # rank r reads images r, r + 2, ...: rank 0 meets image 3 in its first batch of 2
    options = quick_options(root, max_iters=2, interval=2) + [
        'train_dataloader.sampler.shuffle=False']
    proc = _fails(['bash', 'tools/dist_train.sh', SMALL_CONFIG, '2', '--work-dir', str(tmp_path),
                   '--cfg-options', *options],
                  env=dict(PYTHON=PYTHON, PORT=str(free_port())))
    text = proc.stdout + proc.stderr
    assert 'Root Cause' in text, text[-3000:]
    root_cause = text[text.rindex('Root Cause'):]  # torchrun's summary, the output's last lines
    assert 'ADE_train_00000003.jpg' in root_cause, root_cause
