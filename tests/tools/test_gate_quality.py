"""tools/analysis_tools/{gate_quality,calibrate_gate}.py end to end on a tiny model."""
import json

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmseg.registry import MODELS

from msvit_mm.analysis.gate_quality import predict_with_mask
from msvit_mm.analysis.loading import build_model, build_val_dataset, preprocessed

from ..helpers import load_module
from .conftest import REPO, SMALL_CONFIG


def _options(data_root: str) -> list:
    return [f'train_dataloader.dataset.data_root={data_root}',
            f'val_dataloader.dataset.data_root={data_root}',
            'model.backbone.num_layers=4', 'model.backbone.out_indices=[0,1,2,3]']


def _config(data_root: str) -> Config:
    """The small config as ``_options`` changes it."""
    cfg = Config.fromfile(SMALL_CONFIG)
    cfg.train_dataloader.dataset.data_root = cfg.val_dataloader.dataset.data_root = data_root
    cfg.model.backbone.num_layers = 4
    cfg.model.backbone.out_indices = [0, 1, 2, 3]
    return cfg


@pytest.fixture(scope='module')
def checkpoint(tiny_data_root, tmp_path_factory) -> str:
    """An untrained small MSViT's weights (the gate's choices are arbitrary but fixed)."""
    cfg = _config(tiny_data_root)
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    path = str(tmp_path_factory.mktemp('gq') / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def _cli(name: str):
    return load_module(f'{REPO}/tools/analysis_tools/{name}.py', f'tool_{name}')


def test_gate_quality_tool(checkpoint, tiny_data_root, tmp_path):
    out = tmp_path / 'gq.json'
    result = _cli('gate_quality').main([
        SMALL_CONFIG, checkpoint, '--num-images', '2', '--ratios', '0', '0.5', '1',
        '--seeds', '0', '1', '--out-json', str(out), '--out-md', str(tmp_path / 'gq.md'),
        '--cfg-options', *_options(tiny_data_root)])
    saved = json.loads(out.read_text())
    assert saved['rows'] == result['rows'] and result['num_images'] == 2
    assert [r['budget'] for r in result['rows']] == ['own', '0', '0.5', '1']
    assert result['sources'] == ['learned', 'random', 'std', 'entropy', 'oracle']
    by_budget = {r['budget']: r for r in result['rows']}
    for budget, share in (('0', 0.0), ('0.5', 0.5), ('1', 1.0)):
        assert by_budget[budget]['coarse_ratio'] == share
    for budget in ('0', '1'):  # one possible decision: every source gives the same mIoU
        values = {round(by_budget[budget][s], 6) for s in ('learned', 'random', 'std',
                                                            'entropy', 'oracle')}
        assert len(values) == 1, by_budget[budget]
    assert '| the gate\'s own counts |' in (tmp_path / 'gq.md').read_text()
    stats = result['gate_statistics']
    assert set(stats) >= {'image_spread', 'within_spread', 'within_spearman_uniformity'}


def test_forced_prediction_equals_predict(checkpoint, tiny_data_root):
    cfg = _config(tiny_data_root)
    model = build_model(cfg, checkpoint)
    batch = next(preprocessed(model, build_val_dataset(cfg), 1))
    with torch.no_grad():
        ref = model.predict(batch['inputs'], batch['data_samples'])[0].pred_sem_seg.data
        _, aux = model.backbone.forward_with_aux(batch['inputs'])
    own = predict_with_mask(model, batch['inputs'], batch['data_samples'], aux['coarse_mask'])
    assert torch.equal(own[0].pred_sem_seg.data, ref)
    flipped = predict_with_mask(model, batch['inputs'], batch['data_samples'],
                                ~aux['coarse_mask'])
    assert flipped[0].pred_sem_seg.data.shape == ref.shape


def test_calibrate_tool_hits_its_target(checkpoint, tiny_data_root, tmp_path):
    result = _cli('calibrate_gate').main([
        SMALL_CONFIG, checkpoint, '--target', '0.3', '--json', str(tmp_path / 'c.json'),
        '--cfg-options', *_options(tiny_data_root)])
    assert result['num_images'] == 16  # the training images
    assert abs(result['coarse_ratio'] - 0.3) <= 1 / 256 + 1e-9  # 16 images x 16 regions
    assert result['cfg_options'].startswith('model.backbone.gate.threshold=')
    assert json.loads((tmp_path / 'c.json').read_text())['threshold'] == result['threshold']
