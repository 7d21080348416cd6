"""Every config in configs/ builds its model and runs one forward pass (small input)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmseg.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


def test_configs_found():
    names = {osp.basename(p) for p in CONFIGS}
    assert {'upernet_msvit_ade20k.py', 'segmenter_msvit_ade20k.py',
            'msvit-s_upernet_8xb2-80k_ade20k-512x512.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds_and_runs(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['msvit_mm']
    cfg.model.pretrained = None  # the ImageNet file is not here; loading is tested elsewhere
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.eval()
    mode = cfg.model.backbone.get('gate_mode', 'learned')
    assert model.backbone.tokenizer.gate_mode == mode
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        logits = model(x, mode='tensor')
        _, aux = model.backbone.forward_with_aux(x)
    # the heads' logits on the backbone's 1/16 grid
    assert logits.shape == (1, cfg.model.decode_head.num_classes, 6, 4)
    assert torch.isfinite(logits).all()
    expected_ratio = {'all_fine': 0.0, 'all_coarse': 1.0}.get(mode)
    if expected_ratio is not None:
        assert aux['coarse_ratio'].item() == expected_ratio
    if 'synthetic' in path:
        assert cfg.train_dataloader.dataset.data_root.startswith('data/synthetic_ade')
    if mode != 'learned':
        assert cfg.get('find_unused_parameters') is True and cfg.model.gate_loss is None
    else:
        assert cfg.model.gate_loss.type == 'GeneralizedBatchShapingLoss'
