"""Config handling of the tools: the one config loader, and mmseg's flags for tools/train.py
and tools/test.py (same meaning)."""
import os
import os.path as osp
from argparse import ArgumentParser, Namespace
from typing import Optional

from mmengine.config import Config, DictAction
from mmengine.utils import import_modules_from_strings

from ..datasets.checks import check_dataset
from .checkpoints import check_weights_fit
from .launcher import for_each_typed, prepare_distributed


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


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """A config file as every tool reads it: ``--cfg-options`` merged (and the modules they
    add to ``custom_imports`` imported), the checked loaders swapped in
    (:func:`use_checked_loading`) and the config's default registry scope set.

    A missing file is named.
    """
    from mmengine.registry import init_default_scope

    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
        if 'custom_imports' in cfg:  # fromfile imported the file's; import what the CLI added
            import_modules_from_strings(**cfg.custom_imports)
    use_checked_loading(cfg)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return cfg


def load_run_config(args: Namespace) -> Config:
    """:func:`load_config` for tools/train.py and tools/test.py: plus the launcher, a work
    dir (mmseg's default ``work_dirs/<config name>``) and the launcher fixes."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return prepare_distributed(cfg, args.launcher)


CHECKED = {'LoadImageFromFile': 'CheckedLoadImageFromFile',
           'LoadAnnotations': 'CheckedLoadAnnotations'}


def use_checked_loading(cfg: Config) -> Config:
    """Swap mmcv/mmseg's image and label loaders for the checked ones, in every pipeline.

    The checked loaders (msvit_mm/datasets/transforms.py) take the same arguments and give
    the same output on good files; an unreadable file or a label value outside the classes
    raises an error that names the file instead of training on it. ``num_classes`` comes from
    the decode head.
    """
    num_classes = cfg.get('model', {}).get('decode_head', {}).get('num_classes')

    def swap(node: dict) -> None:
        if node['type'] in CHECKED:
            if node['type'] == 'LoadAnnotations' and num_classes is not None:
                node['num_classes'] = num_classes
            node['type'] = CHECKED[node['type']]

    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'tta_pipeline'):
        if cfg.get(key):
            for_each_typed(cfg[key], swap)
    return cfg


def check_dataloaders(cfg: Config, names=('train_dataloader', 'val_dataloader',
                                          'test_dataloader')) -> None:
    """Fail early, naming the path, when a dataset's files are missing."""
    for name in names:
        loader = cfg.get(name)
        if not loader:
            continue
        check_dataset(loader.get('dataset', {}))


def check_load_from(runner) -> None:
    """Refuse a ``load_from`` checkpoint that does not hold exactly the model's weights.

    mmengine loads ``load_from`` with ``strict=False`` and only logs what is missing, so a
    checkpoint of another architecture would be tested (or fine-tuned) as random weights.
    Called between ``Runner.from_cfg`` and ``train()``/``test()``. A config may set
    ``strict_load_from = False`` to load a partial checkpoint on purpose (mmengine's
    behaviour: a warning lists the keys), or name the weights it may lack by prefix:
    ``load_from_missing_ok = ['backbone.tokenizer.gate.', 'gate_losses.']`` (a gate added
    to a trained ViT, the gate benchmark's stage 2).
    """
    from mmengine.runner.checkpoint import CheckpointLoader

    path = runner.cfg.get('load_from')
    if not path or not runner.cfg.get('strict_load_from', True):
        return
    check_weights_fit(runner.model, CheckpointLoader.load_checkpoint(path, map_location='cpu'),
                      path, missing_ok=runner.cfg.get('load_from_missing_ok', ()))
