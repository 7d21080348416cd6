"""Config handling of the tools: the one config loader, and mmseg's flags for tools/train.py
and tools/test.py (same meaning)."""
import logging
import os
import os.path as osp
from argparse import ArgumentParser, Namespace
from typing import Optional

from mmengine.config import Config, DictAction
from mmengine.utils import import_modules_from_strings

from ..datasets.checks import check_dataset, check_labels
from .checkpoints import check_checkpoint_path, check_weights_fit
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
    """Fail early, naming the path, when a dataset's files are missing, or when no label map
    of the training set holds a labelled pixel (:func:`check_labels`). A classification
    config (``default_scope='mmpretrain'``): its folders (``check_cls_dataset``)."""
    classification = cfg.get('default_scope', 'mmseg') == 'mmpretrain'
    for name in names:
        loader = cfg.get(name)
        if not loader:
            continue
        if classification:
            from ..classification.data_checks import check_cls_dataset
            check_cls_dataset(loader.get('dataset', {}))
            continue
        check_dataset(loader.get('dataset', {}))
        if name == 'train_dataloader':
            check_labels(loader.get('dataset', {}))


def check_load_from(runner, testing: bool = False) -> None:
    """Refuse a ``load_from`` checkpoint that does not hold exactly the model's weights.

    mmengine loads ``load_from`` with ``strict=False`` and only logs what is missing, so a
    checkpoint of another architecture would be tested (or fine-tuned) as random weights.
    Called between ``Runner.from_cfg`` and ``train()``/``test()``. A config may set
    ``strict_load_from = False`` to load a partial checkpoint on purpose (mmengine's
    behaviour: a warning lists the keys), or name the weights it may lack by prefix:
    ``load_from_missing_ok = ['backbone.tokenizer.gate.', 'gate_losses.']`` (a gate added
    to a trained ViT, the gate benchmark's stage 2). ``testing=True`` (``tools/test.py``, where
    ``load_from`` is the checkpoint under test): ``load_from_missing_ok`` does not apply, so a
    stage-2 config tested with a gate-less file is an error, not a random gate.
    """
    from mmengine.runner.checkpoint import CheckpointLoader

    path, strict = runner.cfg.get('load_from'), runner.cfg.get('strict_load_from', True)
    if not isinstance(strict, bool):
        raise TypeError(f'strict_load_from must be True or False, got {strict!r}')
    if not path or not strict:
        return
    missing_ok = () if testing else runner.cfg.get('load_from_missing_ok', ())
    check_weights_fit(runner.model, CheckpointLoader.load_checkpoint(path, map_location='cpu'),
                      path, missing_ok=missing_ok, option='load_from_missing_ok')


def resolve_resume(cfg: Config, resume=None) -> Config:
    """Decide what a run resumes; sets ``cfg.resume`` (bool) and, when resuming,
    ``cfg.load_from`` to the checkpoint resumed. Returns ``cfg``.

    mmengine resumes from ``load_from`` whenever it is set, so a run started from other
    weights (the two-stage recipe's ``load_from=<stage-1 checkpoint>``) would resume the
    stage-1 run instead of its own. Here ``load_from`` only starts a run:

    - ``resume`` None / False (and no ``resume = True`` in the config): no resume;
    - ``'auto'`` or True (``--resume``): the latest checkpoint of ``cfg.work_dir``
      (mmengine's ``last_checkpoint`` file) is resumed and ``load_from`` ignored; with none
      there, a warning names the work dir and the run starts (from ``load_from`` if set);
    - a path (``--resume PATH``): that checkpoint is resumed.
    """
    from mmengine.logging import print_log
    from mmengine.runner import find_latest_checkpoint

    if resume is None:
        resume = cfg.get('resume', False)
    if resume in (None, False):
        cfg.resume = False
        return cfg
    if resume is True or resume == 'auto':
        latest = find_latest_checkpoint(cfg.work_dir) if osp.isdir(cfg.work_dir) else None
        if latest is not None and not osp.isfile(latest):  # the work dir was moved
            latest = osp.join(cfg.work_dir, osp.basename(latest))
        if latest is None or not osp.isfile(latest):
            start = f'from load_from={cfg.load_from}' if cfg.get('load_from') else 'from scratch'
            print_log(f'--resume: nothing to resume in the work dir {cfg.work_dir!r} (no '
                      f'last_checkpoint there); the run starts {start}', logger='current',
                      level=logging.WARNING)
            cfg.resume = False
            return cfg
        if cfg.get('load_from') and cfg.load_from != latest:
            print_log(f'--resume: resuming {latest} from the work dir; load_from='
                      f'{cfg.load_from} only starts a run and is not used', logger='current')
        resume = latest
    elif not isinstance(resume, str):
        raise TypeError(f'resume must be True, False or a checkpoint path, got {resume!r}')
    else:
        check_checkpoint_path(osp.expanduser(resume))
    cfg.load_from, cfg.resume = resume, True
    return cfg


def add_finite_loss_hook(cfg: Config) -> Config:
    """Add ``FiniteLossHook`` to ``cfg.custom_hooks`` unless the config has one (under
    ``AmpOptimWrapper`` a few overflowing steps in a row are tolerated)."""
    hooks = cfg.get('custom_hooks') or []
    if not isinstance(hooks, (list, tuple)):
        raise TypeError(f'custom_hooks must be a list of hook configs, got {hooks!r}')
    hooks = list(hooks)
    if not any(isinstance(h, dict) and h.get('type') == 'FiniteLossHook'
               for h in hooks):
        amp = cfg.get('optim_wrapper', {}).get('type') == 'AmpOptimWrapper'
        hooks.append(dict(type='FiniteLossHook', max_consecutive=10 if amp else 1))
    cfg.custom_hooks = hooks
    return cfg
