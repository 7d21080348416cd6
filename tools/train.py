"""Train a segmentor (mmseg's tools/train.py flags; CPU/gloo and GPU/NCCL distributed).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]
        [--cfg-options k=v ...]
    tools/dist_train.sh CONFIG GPUS [...]

``--resume`` resumes the latest checkpoint of the work dir (``load_from`` only starts a run,
it is not resumed: ``msvit_mm.engine.cli.resolve_resume``); ``--resume CHECKPOINT`` resumes
that file. Every run stops with an error when its loss turns NaN or Inf (``FiniteLossHook``).
"""
import argparse
import logging
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import msvit_mm  # noqa: E402,F401  (registers modules, checkpoint compat)
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmseg.registry import RUNNERS  # noqa: E402
from torch.distributed.elastic.multiprocessing.errors import record  # noqa: E402
from msvit_mm.engine.launcher import finish_distributed  # noqa: E402
from msvit_mm.engine.cli import (add_common_args, add_finite_loss_hook,  # noqa: E402
                                 check_dataloaders, check_load_from, load_run_config,
                                 resolve_resume)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CHECKPOINT',
                        help='resume from the latest checkpoint in the work_dir (load_from, '
                             'the weights a run starts from, is then not used), or from '
                             'CHECKPOINT if given')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training')
    return add_common_args(parser).parse_args()


@record  # under torchrun: the failing rank's traceback ends the output (tools/torchrun.sh)
def main():
    args = parse_args()
    cfg = load_run_config(args)
    if args.amp:
        if cfg.optim_wrapper.type == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.', logger='current',
                      level=logging.WARNING)
        else:
            if cfg.optim_wrapper.type != 'OptimWrapper':
                raise ValueError('--amp needs optim_wrapper.type=OptimWrapper, got '
                                 f'{cfg.optim_wrapper.type}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    resolve_resume(cfg, args.resume)
    add_finite_loss_hook(cfg)
    check_dataloaders(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    check_load_from(runner)  # a load_from of another architecture fails before training
    runner.train()
    finish_distributed()  # close gloo before exit (a rank can abort in teardown)


if __name__ == '__main__':
    main()
