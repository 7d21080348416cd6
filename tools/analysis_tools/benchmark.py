"""Inference speed (images/s, latency) of a segmentor on real validation images.

    python tools/analysis_tools/benchmark.py CONFIG [CHECKPOINT]
        [--vs OTHER_CONFIG [OTHER_CHECKPOINT]] [--batch-size B] [--repeat R] [--warmup W]
        [--num-images N] [--device cpu|cuda] [--cfg-options key=value ...]

The first N images of the config's validation set go through the test pipeline and the
model's data preprocessor once (not timed) and are grouped into batches of B images of one
size. A timed pass runs ``model.predict`` (as ``test_step`` does: whole or slide inference,
resize back, argmax) on every batch under ``no_grad``; W untimed passes come first. With
``--vs`` a second model (a baseline) is measured in the same run, passes alternating
(A B B A ...), and the ratio of images/s is printed: on a shared or noisy machine that ratio
is the figure to quote, an absolute time only from a GPU (docs/design.md). Pass the trained
CHECKPOINT of an MSViT: an untrained gate decides arbitrarily, and speed follows its choices.
Timing core: :mod:`msvit_mm.analysis.throughput`.
"""
import argparse
import os.path as osp
import sys
import warnings
from typing import List, Optional

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import msvit_mm  # noqa: E402,F401  (registers the modules)
import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from msvit_mm.analysis.loading import (build_model, build_val_dataset,  # noqa: E402
                                       has_learned_gate, load_config)
from msvit_mm.analysis.throughput import compare, image_batches, token_stats  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument('--vs', nargs='+', metavar=('OTHER_CONFIG', 'OTHER_CHECKPOINT'),
                        help='a second model (config [checkpoint]) timed in the same run')
    parser.add_argument('--batch-size', type=int, default=1, help='images per batch')
    parser.add_argument('--repeat', type=int, default=5, help='timed passes per model')
    parser.add_argument('--warmup', type=int, default=1, help='untimed passes per model first')
    parser.add_argument('--num-images', type=int, default=16,
                        help='validation images to time on (<= 0: all)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in both configs, xxx=yyy pairs (as in mmseg)')
    args = parser.parse_args(argv)
    if args.vs is not None and len(args.vs) > 2:
        parser.error('--vs takes OTHER_CONFIG and at most one OTHER_CHECKPOINT')
    return args


def _load(config: str, checkpoint: Optional[str], args: argparse.Namespace):
    """(model on the device, its batches) for one config."""
    cfg = load_config(config, args.cfg_options)
    model = build_model(cfg, checkpoint).to(args.device)
    model.eval()
    if checkpoint is None and has_learned_gate(model):
        warnings.warn(f'{config}: no checkpoint, the untrained gate decides arbitrarily')
    dataset = build_val_dataset(cfg)
    n = len(dataset) if args.num_images <= 0 else args.num_images
    return model, image_batches(model, dataset, n, args.batch_size)


def _name(config: str, taken: list) -> str:
    name = osp.splitext(osp.basename(config))[0]
    return name if name not in taken else f'{name} ({len(taken) + 1})'


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    runs = {}
    specs = [(args.config, args.checkpoint)]
    if args.vs:
        specs.append((args.vs[0], args.vs[1] if len(args.vs) > 1 else None))
    for config, checkpoint in specs:
        runs[_name(config, list(runs))] = _load(config, checkpoint, args)
    results = compare(runs, repeat=args.repeat, warmup=args.warmup)
    threads = f', {torch.get_num_threads()} threads' if args.device == 'cpu' else ''
    print(f'device {args.device}{threads}; batch size {args.batch_size}; per model '
          f'{args.warmup} warm-up + {args.repeat} timed passes over its images, alternating '
          'between models; median pass')
    width = max(len(n) for n in results)
    print(f"{'model':<{width}}  images  images/s  ms/batch  ms/image  tokens/img  coarse")
    for name, res in results.items():
        res.update(token_stats(*runs[name]))
        tokens = f"{res['tokens_mean']:10.1f}  {res['coarse_ratio_mean']:6.3f}" \
            if 'tokens_mean' in res else f"{'-':>10}  {'-':>6}"
        print(f"{name:<{width}}  {res['images']:6d}  {res['images_per_s']:8.2f}  "
              f"{res['latency_ms']:8.2f}  {res['ms_per_image']:8.2f}  {tokens}")
    if len(results) == 2:
        (a, ra), (b, rb) = results.items()
        ratio = ra['images_per_s'] / rb['images_per_s']
        results['ratio'] = ratio
        print(f'speed ratio (images/s of {a} / {b}): {ratio:.3f}x')
    return results


if __name__ == '__main__':
    main()
