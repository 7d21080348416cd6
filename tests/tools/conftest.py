"""Fixtures for the end-to-end tool tests: a tiny embedded dataset and a subprocess runner."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from msvit_mm.datasets.synthetic_ade20k import make_synthetic_ade20k

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL_CONFIG = osp.join(REPO, 'configs/msvit/msvit-t_upernet_1xb8-800_synthetic-ade20k-128x128.py')


@pytest.fixture(scope='session')
def tiny_data_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('synthetic_ade'))
    return make_synthetic_ade20k(root, num_train=16, num_val=4, size=(128, 128),
                                 seed=0)['data_root']


def quick_options(data_root: str, max_iters: int = 4, interval: int = 2) -> list:
    """--cfg-options that shrink the small config's run to a few seconds."""
    return [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        'train_dataloader.batch_size=2',
        f'train_cfg.max_iters={max_iters}',
        'train_cfg.val_interval=1000',
        f'default_hooks.checkpoint.interval={interval}',
        'default_hooks.checkpoint.max_keep_ckpts=10',
        'default_hooks.logger.interval=1',
        'model.backbone.num_layers=4', 'model.backbone.out_indices=[0,1,2,3]',
    ]


def run_tool(args: list, env: dict = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a command from the repository root; fail the test with its output if it fails."""
    full_env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1', **(env or {}))
    proc = subprocess.run(args, cwd=REPO, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f'{" ".join(args)} failed ({proc.returncode}):\n'
                    f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc


PYTHON = sys.executable
