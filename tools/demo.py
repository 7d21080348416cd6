"""The quick start's main job: train and evaluate a small MSViT on the embedded dataset (CPU).

    python tools/demo.py [--work-dir work_dirs/demo] [--fine-iters N] [--iters N]
        [--data-root data/synthetic_ade]

MSViT's recipe in two stages, with mmengine's Runner:

1. writes the synthetic ADE20K-layout set if it is absent (tools/dataset_converters/...);
2. stage 1: trains the small ViT/16 (every region fine,
   configs/baselines/vit-t16_upernet_1xb8-800_synthetic-ade20k-128x128.py) for --fine-iters;
3. stage 2: adds the learned gate to it and trains on
   (configs/msvit/msvit-t-ft_upernet_1xb8-300_synthetic-ade20k-128x128.py, --iters);
4. sets the gate's threshold so that the training images keep the target share of coarse
   regions (calibration), evaluates on the validation split and prints mIoU beside the
   majority-class baseline, tokens per image, coarse ratio, mean GMACs (real gate
   decisions, every validation image) and the gate-quality line (the same model with random
   and rule-chosen regions of the same number at 50% coarse); writes pictures of the gate's
   decisions to WORK_DIR/gates/.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import msvit_mm  # noqa: E402,F401
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from msvit_mm.analysis.baselines import majority_class_miou  # noqa: E402
from msvit_mm.analysis.flops import count_images, summarize  # noqa: E402
from msvit_mm.analysis.gate_quality import target_coarse_ratio  # noqa: E402
from msvit_mm.analysis.gate_quality import calibrate, gate_quality, summary_line  # noqa: E402
from msvit_mm.analysis.gate_vis import gate_picture  # noqa: E402
from msvit_mm.analysis.loading import (build_train_images, preprocessed,  # noqa: E402
                                       preprocessed_inputs)
from msvit_mm.datasets.synthetic_ade20k import make_synthetic_ade20k  # noqa: E402
from msvit_mm.engine.cli import use_checked_loading  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs/msvit/msvit-t-ft_upernet_1xb8-300_synthetic-ade20k-128x128.py')
FINE_CONFIG = osp.join(REPO,
                       'configs/baselines/vit-t16_upernet_1xb8-800_synthetic-ade20k-128x128.py')
FINE_ITERS = 500


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG, help='stage 2: the MSViT config')
    parser.add_argument('--fine-config', default=FINE_CONFIG, help='stage 1: the ViT/16 config')
    parser.add_argument('--fine-iters', type=int, default=FINE_ITERS,
                        help=f'stage-1 iterations (default {FINE_ITERS})')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/synthetic_ade',
                        help='folder holding ADEChallengeData2016/ (made if absent)')
    parser.add_argument('--iters', type=int, default=None,
                        help="stage-2 iterations (default: the config's)")
    parser.add_argument('--num-pictures', type=int, default=6)
    return parser.parse_args()


def configure(config: str, work_dir: str, data_root: str, iters=None) -> Config:
    cfg = use_checked_loading(Config.fromfile(config))
    cfg.work_dir = work_dir
    data_root = osp.join(data_root, 'ADEChallengeData2016')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    if iters is not None:
        cfg.train_cfg.max_iters = iters
        warmup = min(cfg.param_scheduler[0].end, iters // 2)
        cfg.param_scheduler[0].end = cfg.param_scheduler[-1].begin = max(warmup, 1)
        cfg.param_scheduler[-1].end = max(iters, 2)
        cfg.default_hooks.checkpoint.interval = iters
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1  # evaluated once, below
    cfg.default_hooks.logger.interval = 25
    return cfg


def train_stages(args):
    """Stage 1 (ViT/16), then stage 2 (the gate added) from its weights: stage 2's Runner."""
    fine = configure(args.fine_config, osp.join(args.work_dir, 'stage1_vit16'), args.data_root,
                     args.fine_iters)
    Runner.from_cfg(fine).train()
    cfg = configure(args.config, args.work_dir, args.data_root, args.iters)
    cfg.load_from = osp.join(fine.work_dir, f'iter_{fine.train_cfg.max_iters}.pth')
    runner = Runner.from_cfg(cfg)
    runner.train()
    return cfg, runner


def main():
    args = parse_args()
    start = time.time()
    made = make_synthetic_ade20k(args.data_root)
    print(f"dataset: {made['data_root']} ({made['num_train']} train / {made['num_val']} val, "
          f"{'written now' if made['written'] else 'already there'})")
    cfg, runner = train_stages(args)
    model = runner.model
    model.eval()
    target = target_coarse_ratio(cfg)
    cal = calibrate(model, build_train_images(cfg), target)
    model.backbone.tokenizer.gate_threshold = cal['threshold']
    metrics = runner.test()
    dataset = runner.test_dataloader.dataset
    n = len(dataset)
    flops = summarize(list(count_images(model, preprocessed_inputs(model, dataset, n),
                                        cfg.model.get('test_cfg'))))
    majority = majority_class_miou(dataset)
    quality = gate_quality(model, dataset, n, ratios=(0.5,))
    pictures = osp.join(args.work_dir, 'gates')
    os.makedirs(pictures, exist_ok=True)
    import cv2
    palette = dataset.metainfo['palette']
    for i, batch in enumerate(preprocessed(model, dataset, args.num_pictures)):
        pic = gate_picture(model, batch, palette)
        cv2.imwrite(osp.join(pictures, f'val_{i:03d}.png'), pic[..., ::-1])
    summary = dict(
        config=osp.relpath(args.config, REPO), iters=cfg.train_cfg.max_iters,
        miou=metrics['mIoU'], majority_class_miou=100 * majority['miou'],
        tokens_per_image=flops['tokens_mean'], coarse_ratio=flops['coarse_ratio_mean'],
        gmacs_mean=flops['gmacs_mean'], gmacs_min=flops['gmacs_min'],
        gmacs_max=flops['gmacs_max'], val_images=n, threshold=cal['threshold'],
        target_coarse_ratio=target, seconds=round(time.time() - start, 1))
    summary = {k: v if isinstance(v, (str, int)) else float(v) for k, v in summary.items()}
    summary['gate_quality'] = quality['rows']
    with open(osp.join(args.work_dir, 'demo_summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    scale = cfg.model.backbone.get('coarse_patch_size', 32) // cfg.model.backbone.patch_size
    fine_tokens = flops['tokens_mean'] / (1 - (1 - 1 / scale ** 2) * flops['coarse_ratio_mean'])
    print('\n' + '=' * 64)
    print(f"MSViT demo on the embedded dataset ({n} validation images, "
          f"{args.fine_iters} + {summary['iters']} iterations, {summary['seconds']:.0f} s)")
    print(f"  mIoU                     {summary['miou']:6.2f}")
    print(f"  majority-class baseline  {summary['majority_class_miou']:6.2f}  (mIoU)")
    print(f"  tokens per image         {summary['tokens_per_image']:6.1f}  "
          f"(all fine: {fine_tokens:.0f})")
    print(f"  coarse ratio             {summary['coarse_ratio']:6.3f}  "
          f"(threshold {cal['threshold']:.3f}: {target:g} of the training images' regions)")
    print(f"  GMACs per image          {summary['gmacs_mean']:6.3f}  "
          f"(min {summary['gmacs_min']:.3f}, max {summary['gmacs_max']:.3f})")
    print(f'  gate quality             {summary_line(quality)}')
    print(f'  gate pictures            {pictures}/')
    print(f"  summary                  {osp.join(args.work_dir, 'demo_summary.json')}")
    print('=' * 64)


if __name__ == '__main__':
    main()
