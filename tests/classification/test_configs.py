"""Every classification config (configs/msvit_cls) builds its full-size model in mmpretrain's
scope and runs one forward (and, with a learned gate, one loss) on one image."""
import glob
import os.path as osp

import pytest

pytest.importorskip('mmpretrain.models')

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmpretrain.registry import MODELS  # noqa: E402
from mmpretrain.structures import DataSample  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'msvit_cls', '*.py')))


def test_imagenet_configs_exist():
    names = {osp.basename(p) for p in CONFIGS}
    assert {'msvit-s_4xb256-20e_in1k.py', 'msvit-t_4xb256-20e_in1k.py',
            'vit-s16_4xb256-20e_in1k.py', 'vit-s32_4xb256-20e_in1k.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(p) for p in CONFIGS])
def test_config_builds_and_runs(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    assert 'msvit_mm.classification' in cfg.custom_imports['imports']
    if 'in1k' in path:  # starts from the DeiT release, head included; not here offline
        assert cfg.model.init_cfg['type'] == 'Pretrained'
        assert 'deit' in cfg.model.init_cfg['checkpoint']
    cfg.model.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    size = cfg.model.backbone.get('img_size', 224)
    x = torch.randn(1, 3, *((size, size) if isinstance(size, int) else size))
    gate = model.backbone.tokenizer.gate
    want = (cfg.model.backbone.get('gate') or dict(type='MLPGate'))['type']
    assert type(gate).__name__ == want
    with torch.no_grad():
        logits = model.eval()(x)
        assert logits.shape == (1, cfg.model.head.num_classes)
        assert torch.isfinite(logits).all()
        if gate.learned:
            losses = model.train().loss(x.expand(2, -1, -1, -1), [DataSample().set_gt_label(0)] * 2)
            assert any(k.startswith('loss_gate') for k in losses)
            assert torch.isfinite(torch.stack([v for v in losses.values()])).all()
    if not gate.learned:
        assert cfg.get('find_unused_parameters') is True and cfg.model.gate_loss is None
