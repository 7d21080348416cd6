"""Count a segmentor's or classifier's MACs (fvcore convention) per image, as inference runs it.

    python tools/analysis_tools/get_flops.py CONFIG [CHECKPOINT] [--num-images N]
        [--shape H W] [--json PATH] [--cfg-options key=value ...]

Without ``--shape``: the mean (min, max) over the first N images of the config's validation
set, each loaded by the test pipeline and normalized by the model's data preprocessor, with
the real gate decisions of an MSViT (pass the trained CHECKPOINT: an untrained gate decides
arbitrarily) and the config's test mode (a 'slide' test runs, and counts, every crop).
A classification config (``default_scope='mmpretrain'``, configs/msvit_cls) is counted the
same way: backbone + neck + classification head on each validation image as the test
pipeline gives it. With ``--shape H W``: one random [1, 3, H, W] input (N with ``--num-images``), a single forward
as mmseg's own get_flops does; meaningful for static models only. Counting is
:mod:`msvit_mm.analysis.flops` (mmengine's ``FlopAnalyzer`` + an attention handler).
"""
import argparse
import json
import os
import os.path as osp
import sys
import warnings
from typing import Iterator, List, Optional

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import msvit_mm  # noqa: E402,F401  (registers the modules)
import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402
from torch import nn  # noqa: E402

from msvit_mm.analysis.flops import count_images, summarize  # noqa: E402
from msvit_mm.analysis.loading import (build_model, build_val_dataset,  # noqa: E402
                                       has_learned_gate, load_config, preprocessed_inputs)

DEFAULT_NUM_IMAGES = 100


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint (weights decide the gate)')
    parser.add_argument('--num-images', type=int, default=None,
                        help=f'images to average over (default {DEFAULT_NUM_IMAGES}, or 1 with '
                             '--shape; <= 0: the whole validation set)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='count random inputs of this size instead of real images')
    parser.add_argument('--json', help='write the summary (and per-image counts) here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, xxx=yyy pairs (as in mmseg)')
    args = parser.parse_args(argv)
    if args.shape is not None and min(args.shape) <= 0:
        parser.error(f'--shape H W must be positive, got {args.shape}')
    return args


def _with_progress(items: Iterator, total: int) -> Iterator:
    bar = ProgressBar(total, file=sys.stderr)
    for item in items:
        yield item
        bar.update()
    sys.stderr.write('\n')


def _gate_note(model: nn.Module, checkpoint: Optional[str], shape) -> Optional[str]:
    if not has_learned_gate(model):
        return None
    if shape is not None:
        return 'the gate decides on random noise: use real images for a dynamic model'
    if checkpoint is None:
        return 'no checkpoint: the gate is untrained and its decisions are arbitrary'
    return None


def format_table(summary: dict) -> str:
    """The summary as aligned text lines."""
    b = summary['breakdown']
    rows = [
        ('images', f"{summary['num_images']} ({summary['forwards_mean']:.2f} forwards each)"),
        ('GMACs mean', f"{summary['gmacs_mean']:.3f}"),
        ('GMACs min / max', f"{summary['gmacs_min']:.3f} / {summary['gmacs_max']:.3f}"),
        ('tokens / image', f"{summary['tokens_mean']:.1f}"),
        ('coarse ratio', f"{summary['coarse_ratio_mean']:.3f}"),
        ('params (M)', f"{summary['params_m']:.2f}"),
        ('  tokenizer+gate', f"{b['tokenizer_gate']:.3f} (gate {b['gate']:.3f})"),
        ('  transformer', f"{b['transformer']:.3f}"),
        ('  neck', f"{b['neck']:.3f}"),
        ('  heads', f"{b['heads']:.3f}"),
    ]
    width = max(len(k) for k, _ in rows)
    return '\n'.join(f'{k:<{width}}  {v}' for k, v in rows)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model = build_model(cfg, args.checkpoint)
    note = _gate_note(model, args.checkpoint, args.shape)
    if note:
        warnings.warn(note)
    if args.shape is not None:
        n = args.num_images if args.num_images and args.num_images > 0 else 1
        images = (torch.randn(1, 3, *args.shape) for _ in range(n))
        test_cfg = None  # one forward on the given shape
    else:
        dataset = build_val_dataset(
            cfg, hint='Or count random inputs with --shape H W (static models).')
        n = DEFAULT_NUM_IMAGES if args.num_images is None else args.num_images
        n = len(dataset) if n <= 0 else min(n, len(dataset))
        images = preprocessed_inputs(model, dataset, n)
        test_cfg = getattr(model, 'test_cfg', None)  # a classifier has none: whole images
    records = list(_with_progress(count_images(model, images, test_cfg), n))
    summary = summarize(records)
    print(format_table(summary))
    print('MACs: fvcore convention (1 multiply-add = 1), backbone + neck + decode head (or '
          'classification head); the auxiliary heads (training only) and the final logits '
          'resize are not counted.')
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        out = dict(summary, config=args.config, checkpoint=args.checkpoint,
                   input='shape' if args.shape else 'val_images', shape=args.shape,
                   note=note, per_image=[dict(gmacs=r['macs'] / 1e9, tokens=r['tokens'],
                                              coarse_ratio=r['coarse_ratio'],
                                              forwards=r['forwards']) for r in records])
        with open(args.json, 'w') as f:
            json.dump(out, f, indent=1)
        print(f'wrote {args.json}')
    return summary


if __name__ == '__main__':
    main()
