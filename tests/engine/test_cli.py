"""The tools' config handling: checked loaders swapped in, CLI custom_imports honoured."""
import os.path as osp
from argparse import Namespace

from msvit_mm.engine.cli import load_run_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ADE = osp.join(REPO, 'configs/msvit/msvit-s_upernet_8xb2-80k_ade20k-512x512.py')


def _args(**kw):
    return Namespace(**dict(config=ADE, cfg_options=None, work_dir=None, launcher='none',
                            local_rank=0), **kw)


def test_full_size_config_gets_checked_loaders():
    cfg = load_run_config(_args())
    types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert types[:2] == ['CheckedLoadImageFromFile', 'CheckedLoadAnnotations']
    assert cfg.train_dataloader.dataset.pipeline[1]['num_classes'] == 150
    assert cfg.test_dataloader.dataset.pipeline[0]['type'] == 'CheckedLoadImageFromFile'
    assert 'LoadImageFromFile' not in str(cfg.tta_pipeline).replace('CheckedLoad', '')
    assert cfg.work_dir.endswith('msvit-s_upernet_8xb2-80k_ade20k-512x512')
