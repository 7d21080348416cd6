"""The classification quick start: a small MSViT classifier on the embedded object set (CPU).

    python tools/demo_cls.py [--work-dir work_dirs/demo_cls] [--fine-iters N] [--iters N]
        [--data-root data/objects_cls] [--num-train N] [--num-val M] [--cfg-options k=v ...]

MSViT's recipe in two stages, with mmengine's Runner and mmpretrain's ``Accuracy``:

1. writes the object set if it is absent (tools/dataset_converters/make_object_cls.py);
2. stage 1: trains the small ViT/16 (every region fine,
   configs/msvit_cls/vit-t16_1xb32-300_objects-128px.py) for --fine-iters;
3. stage 2: adds the learned gate to it and trains towards 50% coarse regions
   (configs/msvit_cls/msvit-t_1xb32-150_objects-128px.py, --iters);
4. sets the gate's threshold so that the training images keep the target share of coarse
   regions (calibration), evaluates on the validation split and prints top-1 accuracy
   (stage 1 and stage 2), tokens and GMACs per image (real gate decisions, every
   validation image) and the gate quality: the stage-2 model's accuracy with its learned
   regions against random and rule-chosen regions of the same number per image, and the
   object oracle (the regions holding the least object coarse; the generator knows where
   the object is).
"""
import argparse
import json
import os.path as osp
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import msvit_mm.classification  # noqa: E402,F401  (registers the classifier)
from msvit_mm.analysis.cls_gate_quality import cls_gate_quality, cls_summary_line  # noqa: E402
from msvit_mm.analysis.flops import count_images, summarize  # noqa: E402
from msvit_mm.analysis.gate_quality import calibrate, target_coarse_ratio  # noqa: E402
from msvit_mm.analysis.loading import (build_train_images, preprocessed,  # noqa: E402
                                       preprocessed_inputs)
from msvit_mm.datasets.object_cls_writer import SPLITS, make_object_cls  # noqa: E402
from msvit_mm.datasets.object_scenes import render_object_scene  # noqa: E402
from msvit_mm.engine.cli import (add_finite_loss_hook, check_dataloaders,  # noqa: E402
                                 check_load_from, load_config)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs/msvit_cls/msvit-t_1xb32-150_objects-128px.py')
FINE_CONFIG = osp.join(REPO, 'configs/msvit_cls/vit-t16_1xb32-300_objects-128px.py')
CALIBRATION_IMAGES = 200  # the first training images (classes take turns)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG, help='stage 2: the MSViT config')
    parser.add_argument('--fine-config', default=FINE_CONFIG, help='stage 1: the ViT/16 config')
    parser.add_argument('--fine-iters', type=int, default=None,
                        help="stage-1 iterations (default: the config's)")
    parser.add_argument('--iters', type=int, default=None,
                        help="stage-2 iterations (default: the config's)")
    parser.add_argument('--fine-checkpoint', default=None,
                        help='a stage-1 checkpoint of --fine-config: stage 1 is not trained '
                             'again (e.g. to rerun stage 2)')
    parser.add_argument('--work-dir', default='work_dirs/demo_cls')
    parser.add_argument('--data-root', default='data/objects_cls',
                        help='the object set (written if absent)')
    parser.add_argument('--num-train', type=int, default=1000)
    parser.add_argument('--num-val', type=int, default=200)
    parser.add_argument('--seed', type=int, default=0, help="the object set's seed")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides for both stages, xxx=yyy pairs')
    return parser.parse_args(argv)


def configure(config: str, work_dir: str, data_root: str, iters=None, options=None) -> Config:
    """The config as the project's tools read it (``load_config``: options merged, checked
    image loading, mmpretrain's scope), with the demo's work dir, data and schedule."""
    cfg = load_config(config, options)
    cfg.work_dir = work_dir
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
        cfg[loader].dataset.classes = osp.join(data_root, 'classes.txt')
    if iters is not None:
        if iters < 1:
            raise ValueError(f'iterations must be >= 1, got {iters}')
        cfg.train_cfg.max_iters = iters
        warmup = max(min(cfg.param_scheduler[0].end, iters // 2), 1)
        cfg.param_scheduler[0].end = cfg.param_scheduler[-1].begin = warmup
        cfg.param_scheduler[-1].end = max(iters, warmup + 1)
        cfg.default_hooks.checkpoint.interval = iters
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1  # evaluated once, below
    cfg.default_hooks.logger.interval = 25
    return add_finite_loss_hook(cfg)


def run_stage(cfg: Config) -> Runner:
    check_dataloaders(cfg)
    runner = Runner.from_cfg(cfg)
    check_load_from(runner)  # a checkpoint of another model fails before training
    runner.train()
    return runner


def object_masks(seed: int, size):
    """``data_samples -> [B, H, W] bool``: the generator's object masks, re-rendered from each
    image's file name (split folder and index) and class."""
    def masks(samples):
        out = []
        for s in samples:
            split = osp.basename(osp.dirname(osp.dirname(s.img_path)))
            index = int(osp.splitext(osp.basename(s.img_path))[0])
            rng = np.random.default_rng([seed, SPLITS[split], index])
            out.append(render_object_scene(rng, size, int(s.gt_label[0]))['mask'])
        return torch.from_numpy(np.stack(out))
    return masks


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.time()
    made = make_object_cls(args.data_root, num_train=args.num_train, num_val=args.num_val,
                           size=(128, 128), seed=args.seed)
    print(f"dataset: {made['root']} ({made['num_train']} train / {made['num_val']} val, "
          f"{len(made['classes'])} classes, {'written now' if made['written'] else 'already there'})")
    fine = configure(args.fine_config, osp.join(args.work_dir, 'stage1_vit16'), args.data_root,
                     args.fine_iters, args.cfg_options)
    if args.fine_checkpoint:
        fine.load_from = args.fine_checkpoint
        fine_runner = Runner.from_cfg(fine)
        check_load_from(fine_runner)
    else:
        fine_runner = run_stage(fine)
    fine_acc = fine_runner.test()['accuracy/top1']
    cfg = configure(args.config, args.work_dir, args.data_root, args.iters, args.cfg_options)
    cfg.load_from = args.fine_checkpoint or osp.join(fine.work_dir,
                                                     f'iter_{fine.train_cfg.max_iters}.pth')
    runner = run_stage(cfg)
    model = runner.model
    model.eval()
    target = target_coarse_ratio(cfg)
    cal = calibrate(model, build_train_images(cfg), target, num_images=CALIBRATION_IMAGES)
    model.backbone.tokenizer.gate_threshold = cal['threshold']
    acc = runner.test()['accuracy/top1']
    dataset = runner.test_dataloader.dataset
    n = len(dataset)
    flops = summarize(list(count_images(model, preprocessed_inputs(model, dataset, n))))
    fine_flops = summarize(list(count_images(fine_runner.model,
                                             preprocessed_inputs(model, dataset, 1))))
    quality = cls_gate_quality(model, preprocessed(model, dataset, n, batch_size=50),
                               ratios=(0.5,), object_masks=object_masks(args.seed, made['size']))
    summary = dict(
        config=osp.relpath(args.config, REPO), fine_iters=fine.train_cfg.max_iters,
        iters=cfg.train_cfg.max_iters, val_images=n, top1_vit16=fine_acc, top1=acc,
        tokens_per_image=flops['tokens_mean'], coarse_ratio=flops['coarse_ratio_mean'],
        gmacs_mean=flops['gmacs_mean'], gmacs_min=flops['gmacs_min'],
        gmacs_max=flops['gmacs_max'], gmacs_vit16=fine_flops['gmacs_mean'],
        tokens_vit16=fine_flops['tokens_mean'], threshold=cal['threshold'],
        train_coarse_ratio=cal['coarse_ratio'], target_coarse_ratio=target,
        seconds=round(time.time() - start, 1))
    summary = {k: v if isinstance(v, (str, int)) else float(v) for k, v in summary.items()}
    summary['gate_quality'] = quality['rows']
    with open(osp.join(args.work_dir, 'demo_cls_summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print('\n' + '=' * 72)
    print(f"MSViT classification demo on the embedded object set ({n} validation images, "
          f"{summary['fine_iters']} + {summary['iters']} iterations, {summary['seconds']:.0f} s)")
    print(f"  top-1 accuracy           {acc:6.2f}  (stage-1 ViT/16: {fine_acc:.2f}; "
          f"chance {100 / len(made['classes']):.0f})")
    print(f"  tokens per image         {summary['tokens_per_image']:6.1f}  "
          f"(ViT/16: {summary['tokens_vit16']:.0f})")
    print(f"  coarse ratio             {summary['coarse_ratio']:6.3f}  "
          f"(threshold {cal['threshold']:.3g}: {cal['coarse_ratio']:.3f} of the training "
          f"images' regions, target {target:g})")
    print(f"  GMACs per image          {summary['gmacs_mean']:6.4f}  "
          f"(min {summary['gmacs_min']:.4f}, max {summary['gmacs_max']:.4f}; "
          f"ViT/16 {summary['gmacs_vit16']:.4f})")
    print(f'  gate quality             {cls_summary_line(quality)}')
    print(f'                           {cls_summary_line(quality, "0.5")}')
    print(f"  summary                  {osp.join(args.work_dir, 'demo_cls_summary.json')}")
    print('=' * 72)
    return summary


if __name__ == '__main__':
    main()
