"""Config handling shared by tools/train.py and tools/test.py (mmseg's flags, same meaning)."""
import os
import os.path as osp
from argparse import ArgumentParser, Namespace

from mmengine.config import Config, DictAction

from ..datasets.checks import check_data_root
from .launcher import prepare_distributed


def add_common_args(parser: ArgumentParser) -> ArgumentParser:
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, xxx=yyy pairs (as in mmseg)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def load_config(args: Namespace) -> Config:
    """Config with the CLI overrides, a work dir, checked data roots and launcher fixes."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return prepare_distributed(cfg, args.launcher)


def check_dataloaders(cfg: Config, names=('train_dataloader', 'val_dataloader',
                                          'test_dataloader')) -> None:
    """Fail early, naming the path, when a dataset's files are missing."""
    for name in names:
        loader = cfg.get(name)
        if not loader:
            continue
        dataset = loader.get('dataset', {})
        check_data_root(dataset.get('data_root'), dataset.get('data_prefix'))
