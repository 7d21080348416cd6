"""Test (and evaluate) a segmentor (mmseg's tools/test.py flags).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR] [--show-dir DIR] [--tta]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import msvit_mm  # noqa: E402,F401
from mmengine.runner import Runner  # noqa: E402
from torch.distributed.elastic.multiprocessing.errors import record  # noqa: E402
from msvit_mm.engine.checkpoints import check_checkpoint_path  # noqa: E402
from msvit_mm.engine.launcher import finish_distributed  # noqa: E402
from msvit_mm.engine.cli import (add_common_args, check_dataloaders, check_load_from,  # noqa: E402
                                 load_run_config)


def parse_args():
    parser = argparse.ArgumentParser(description='MMSeg test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', type=str,
                        help='directory to save output predictions for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='directory where painted images will be saved '
                        '(under work_dir/timestamp/)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true', help='test time augmentation')
    return add_common_args(parser).parse_args()


@record  # under torchrun: the failing rank's traceback ends the output (tools/torchrun.sh)
def main():
    args = parse_args()
    check_checkpoint_path(args.checkpoint)  # a folder or a missing file is named
    cfg = load_run_config(args)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise RuntimeError('--show/--show-dir need default_hooks.visualization '
                               "(dict(type='SegVisualizationHook'))")
        hook['draw'] = True
        if args.show:
            hook.update(show=True, wait_time=args.wait_time)
        if args.show_dir:
            cfg.visualizer['save_dir'] = args.show_dir
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    check_dataloaders(cfg, ('test_dataloader',))
    runner = Runner.from_cfg(cfg)
    check_load_from(runner, testing=True)  # every weight from the checkpoint, or an error
    runner.test()
    finish_distributed()  # close gloo before exit (a rank can abort in teardown)


if __name__ == '__main__':
    main()
