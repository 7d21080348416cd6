"""Time MSViT-S packed execution against ViT-S/16 (same widths and weights), as ratios.

    python tools/analysis_tools/benchmark_packed.py [--quick] [--sizes 512 256]
        [--batches 1 8] [--ratios 0 0.25 0.5 0.75 1] [--repeats 5] [--threads 1]
        [--train-size 256] [--train-batch 2] [--no-train] [--json PATH]

Inference (eval, no_grad): for every image size, batch and forced coarse ratio (per-image
ratios spread around it, see ``spread_masks``), the MSViT backbone in packed execution
(learned gate running, its decisions replaced by the forced ones), mmseg's ViT as it runs
and the same ViT with fused attention (``ViT-SDPA``) are timed in the same alternating
rounds. Printed: latency ratios MSViT / ViT, the analytic MACs ratio and their quotient
(latency ratio / MACs ratio: 1 = time falls exactly as the MACs do), and a dense control:
ViT-SDPA on an image with as many tokens as the MSViT images have on average, so that
"MSViT / dense" is the cost of variable-length execution itself (gate, packing, per-image
attention, unpacking) and what is left of the quotient is how this machine runs fewer tokens
(the dense control's own quotient). Then which rows meet the speed targets (quotient <= 1.10
with coarse tokens, <= 1.05x ViT-SDPA all fine), and the per-forward floor: ViT-SDPA's
layers on one token, i.e. the time of reading their weights, which no token saving removes.
Training (forward + backward, train mode): MSViT in masked and in packed execution against
both ViTs. Timings are medians over ``--repeats`` rounds on ``--threads`` CPU threads (or the
GPU if ``--device cuda``); the benchmark itself is :mod:`msvit_mm.analysis.speed_benchmark`.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import torch  # noqa: E402

from msvit_mm.analysis.speed_benchmark import (BenchSettings, bench_floor,  # noqa: E402
                                               bench_inference, bench_train, inference_table,
                                               target_summary, train_table)

QUICK = dict(sizes=[256], batches=[1, 8], repeats=3, train_size=256, train_batch=2)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help=f'small run (a couple of minutes on one CPU thread): {QUICK}')
    parser.add_argument('--sizes', type=int, nargs='+', default=[512, 256])
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--ratios', type=float, nargs='+', default=[0., 0.25, 0.5, 0.75, 1.])
    parser.add_argument('--spread', type=float, default=0.2,
                        help='per-image coarse ratios spread over ratio +- spread in a batch')
    parser.add_argument('--repeats', type=int, default=5, help='timed rounds (median kept)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed rounds first')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--train-size', type=int, default=256)
    parser.add_argument('--train-batch', type=int, default=2)
    parser.add_argument('--train-ratio', type=float, default=0.5)
    parser.add_argument('--no-train', action='store_true', help='skip the training step')
    parser.add_argument('--no-control', action='store_true',
                        help='skip the dense control (ViT-SDPA on an image with the tokens an '
                             'MSViT image has on average)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', help='write every measurement here')
    args = parser.parse_args(argv)
    if args.quick:
        for k, v in QUICK.items():
            setattr(args, k, v)
    return args


def main(argv: Optional[List[str]] = None) -> Dict[str, List[Dict]]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = BenchSettings(repeats=args.repeats, warmup=args.warmup, spread=args.spread,
                             device=args.device, seed=args.seed, control=not args.no_control)
    print(f'torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} CPU '
          f'thread(s), median of {args.repeats} alternating rounds after {args.warmup} warm-up')
    inference = []
    for size in args.sizes:
        for batch in args.batches:
            inference += bench_inference(size, batch, args.ratios, settings)
            print(f'  done: {size}x{size}, batch {batch}', file=sys.stderr)
    print('\nInference (eval, no_grad), MSViT-S packed vs ViT-S/16:\n')
    print(inference_table(inference))
    print('\n' + target_summary(inference))
    floors = [bench_floor(size, settings) for size in args.sizes]
    print('\nPer-forward floor (ViT-SDPA layers, batch 1): one token against all tokens:')
    for f in floors:
        print(f"  {f['size']}x{f['size']}: {1e3 * f['one_token_s']:.1f} ms on 1 token, "
              f"{1e3 * f['all_tokens_s']:.1f} ms on {f['tokens']} ({100 * f['share']:.0f}%); "
              f"the layers hold {f['weight_bytes'] / 1e6:.0f} MB of weights")
    result = dict(inference=inference, floor=floors, train=[])
    if not args.no_train:
        result['train'] = bench_train(args.train_size, args.train_batch, args.train_ratio,
                                      settings)
        print('\nTraining step (forward + backward, train mode, forced masks, learned gate):\n')
        print(train_table(result['train']))
    print('\nquotient = latency ratio / MACs ratio; MACs: analytic (embedding + layers + gate). '
          'dense same-tokens: ViT-SDPA on a size x W image, W chosen for the mean token count '
          'of the MSViT images (what a dense ViT with that many tokens costs on this machine); '
          'quotient of dense: its latency ratio over its MACs ratio, against ViT-SDPA.')
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(dict(result, args=vars(args), torch=torch.__version__), f, indent=1)
    return result


if __name__ == '__main__':
    main()
