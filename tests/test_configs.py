"""Every config in configs/ builds its model and runs one forward pass (small input)."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmseg.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p and '/msvit_cls/' not in p)  # those: tests/classification


DOCS = [osp.join(REPO, 'README.md')] + sorted(glob.glob(osp.join(REPO, 'docs', '*.md')))
NAMED = r'(?<![\w/.])(?:benchmarks|configs|tools|scripts|docs)/[\w./*+-]+\.(?:py|sh|md|png)'


def test_every_file_the_docs_name_exists():
    """README.md and docs/*.md name configs, tools, scripts and pictures; each exists (a ``*``
    pattern matches at least one file)."""
    named = set()
    for doc in DOCS:
        with open(doc, encoding='utf-8') as f:
            named |= set(re.findall(NAMED, f.read()))
    missing = [n for n in sorted(named) if not glob.glob(osp.join(REPO, n))]
    assert not missing, f'named in README.md or docs/ but not in the repository: {missing}'
    assert any(n.startswith('configs/msvit/') for n in named)


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds_and_runs(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['msvit_mm']
    cfg.model.pretrained = None  # the ImageNet file is not here; loading is tested elsewhere
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.eval()
    gate = cfg.model.backbone.get('gate') or dict(type='MLPGate')
    assert type(model.backbone.tokenizer.gate).__name__ == gate['type']
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        logits = model(x, mode='tensor')
        _, aux = model.backbone.forward_with_aux(x)
    # the heads' logits on the backbone's 1/16 grid
    assert logits.shape == (1, cfg.model.decode_head.num_classes, 6, 4)
    assert torch.isfinite(logits).all()
    built = model.backbone.tokenizer.gate
    if type(built).__name__ == 'FixedGate':
        assert aux['coarse_ratio'].item() == float(built.coarse)
    if 'synthetic' in path:
        assert cfg.train_dataloader.dataset.data_root.startswith('data/synthetic_')
    if not built.learned:
        assert cfg.get('find_unused_parameters') is True and cfg.model.gate_loss is None
    else:
        losses = cfg.model.gate_loss
        losses = losses if isinstance(losses, (list, tuple)) else [losses]
        assert {'GeneralizedBatchShapingLoss', 'TargetRateLoss'} & {lo.type for lo in losses}
