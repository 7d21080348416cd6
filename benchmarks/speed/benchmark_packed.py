"""Time MSViT-S packed execution against ViT-S/16 (same widths and weights), as ratios.

    python benchmarks/speed/benchmark_packed.py [--quick] [--sizes 512 256]
        [--batches 1 8] [--ratios 0 0.25 0.5 0.75 1] [--repeats 5] [--threads 1] [--clock wall|cpu]
        [--train-sizes 128 256 512] [--train-batches 2 8] [--train-ratios 0 0.25 0.5 0.75]
        [--learning-ratios 0.5] [--query-shares 0.25 0.5 1] [--masked-query]
        [--train-variants frozen@0 masked packed@ ...] [--segmentor-config CONFIG] [--segmentor-sizes 128 256]
        [--segmentor-batches 2] [--no-inference] [--no-train] [--no-segmentor] [--json PATH]

Inference (eval, no_grad): for every image size, batch and forced coarse ratio (per-image
ratios spread around it, see ``spread_masks``), the MSViT backbone in packed execution
(learned gate running, its decisions replaced by the forced ones), mmseg's ViT as it runs
and the same ViT with fused attention (``ViT-SDPA``) are timed in the same alternating
rounds. Printed: latency ratios MSViT / ViT, the analytic MACs ratio and their quotient
(latency ratio / MACs ratio: 1 = time falls exactly as the MACs do), and a dense control:
ViT-SDPA on an image with as many tokens as the MSViT images have on average, so that
"MSViT / dense" is the cost of variable-length execution itself (gate, packing, per-image
attention, unpacking). Then which rows meet the inference targets and the per-forward
floor: ViT-SDPA's layers on one token, i.e. the time of reading their weights.

Training (forward + backward, train mode, :mod:`benchmarks.speed.train_benchmark`): the
backbone alone at every ``--train-sizes`` x ``--train-batches``, and the whole segmentor of
``--segmentor-config`` (neck, decode and auxiliary heads, their losses) at the smaller
``--segmentor-sizes`` x ``--segmentor-batches``: ViT, ViT-SDPA, MSViT with a gate that does
not learn (packed) at every ``--train-ratios``, and the three forms for a learning gate
(masked, packed, packed with the 'fine_mean' counterfactual, and ``packed_query`` at every
``--query-shares``) at ``--learning-ratios``; time
ratios beside the MACs ratio, and the bytes saved for backward. Timings are medians over
``--repeats`` rounds on ``--threads`` CPU threads (or the GPU if ``--device cuda``).
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import torch  # noqa: E402

from benchmarks.speed.speed_benchmark import (BenchSettings, bench_floor,  # noqa: E402
                                              bench_inference, inference_table,
                                              target_summary)
from benchmarks.speed.train_benchmark import (bench_train, round_spread,  # noqa: E402
                                              train_table, train_targets)
from msvit_mm.engine.cli import load_config  # noqa: E402

QUICK = dict(sizes=[256], batches=[1, 8], repeats=3, train_sizes=[128], train_batches=[2],
             segmentor_sizes=[128])
SEGMENTOR = 'configs/msvit/upernet_msvit_ade20k.py'


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
    parser.add_argument('--clock', choices=['wall', 'cpu'], default='wall',
                        help="'cpu': this process's CPU time (one thread on a shared CPU: "
                             'time lost to other processes not counted); CPU device only')
    parser.add_argument('--no-inference', action='store_true', help='skip inference')
    parser.add_argument('--train-sizes', type=int, nargs='+', default=[128, 256, 512])
    parser.add_argument('--train-batches', type=int, nargs='+', default=[2, 8])
    parser.add_argument('--train-ratios', type=float, nargs='+', default=[0., 0.25, 0.5, 0.75],
                        help='coarse ratios of the gate that does not learn (0: all fine)')
    parser.add_argument('--learning-ratios', type=float, nargs='+', default=[0.5],
                        help='coarse ratios at which the learning-gate forms are timed')
    parser.add_argument('--query-shares', type=float, nargs='*', default=[],
                        help="shares of the execution='packed_query' forms timed, e.g. "
                             '0.25 0.5 1 (default: none)')
    parser.add_argument('--masked-query', action='store_true',
                        help="also time execution='masked_query' (masked's gradients, its "
                             'absent tokens as query-only tokens)')
    parser.add_argument('--masked-query-images', type=float, nargs='*', default=[],
                        help="image shares of execution='masked_query' on a share of each "
                             "batch's images (query_image_share), e.g. 0.5 (default: none)")
    parser.add_argument('--train-variants', nargs='+',
                        help='time only the training variants whose names start with one '
                             'of these (vit_sdpa always), e.g. frozen@0 masked packed@ '
                             '(masked_query also selects masked_query_img<s>)')
    parser.add_argument('--no-train', action='store_true', help='skip the training step')
    parser.add_argument('--segmentor-config', default=SEGMENTOR,
                        help='config whose segmentor the whole training step runs')
    parser.add_argument('--segmentor-sizes', type=int, nargs='+', default=[128, 256])
    parser.add_argument('--segmentor-batches', type=int, nargs='+', default=[2])
    parser.add_argument('--no-segmentor', action='store_true',
                        help='skip the whole-segmentor training step')
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
    check_args(parser, args)
    return args


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse counts, sizes and shares that cannot be timed (parser.error names the flag)."""
    for flag in ('repeats', 'threads'):
        if getattr(args, flag) < 1:
            parser.error(f'--{flag} must be at least 1, got {getattr(args, flag)}')
    if args.clock == 'cpu' and args.device != 'cpu':
        parser.error(f"--clock cpu times CPU work only; --device is {args.device!r}")
    if args.warmup < 0:
        parser.error(f'--warmup must be >= 0, got {args.warmup}')
    if not 0.0 <= args.spread <= 1.0:
        parser.error(f'--spread must lie in [0, 1], got {args.spread}')
    for flag in ('ratios', 'train_ratios', 'learning_ratios'):
        bad = [r for r in getattr(args, flag) if not 0.0 <= r <= 1.0]
        if bad:
            parser.error(f"--{flag.replace('_', '-')} must lie in [0, 1], got {bad}")
    bad = [s for s in args.query_shares + args.masked_query_images if not 0.0 < s <= 1.0]
    if bad:
        parser.error(f'--query-shares and --masked-query-images must lie in (0, 1], got {bad}')
    for flag in ('sizes', 'batches', 'train_sizes', 'train_batches', 'segmentor_sizes',
                 'segmentor_batches'):
        bad = [v for v in getattr(args, flag) if v < 1]
        if bad:
            parser.error(f"--{flag.replace('_', '-')} must be positive, got {bad}")


def run_inference(args: argparse.Namespace, settings: BenchSettings) -> Dict[str, List[Dict]]:
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
    print('\nquotient = latency ratio / MACs ratio; MACs: analytic (embedding + layers + gate). '
          'dense same-tokens: ViT-SDPA on a size x W image, W chosen for the mean token count '
          'of the MSViT images (what a dense ViT with that many tokens costs on this machine); '
          'quotient of dense: its latency ratio over its MACs ratio, against ViT-SDPA.')
    return dict(inference=inference, floor=floors)


def run_train(args: argparse.Namespace, settings: BenchSettings) -> List[Dict]:
    jobs = [(size, batch, None) for size in args.train_sizes for batch in args.train_batches]
    if not args.no_segmentor:
        config = load_config(args.segmentor_config)
        jobs += [(size, batch, config) for size in args.segmentor_sizes
                 for batch in args.segmentor_batches]
    rows = []
    for size, batch, config in jobs:
        rows += bench_train(size, batch, args.train_ratios, settings, args.learning_ratios,
                            config, args.query_shares, args.masked_query,
                            args.masked_query_images, args.train_variants)
        print(f"  done: training, {'segmentor' if config else 'backbone'} {size}x{size}, "
              f'batch {batch}', file=sys.stderr)
    print('\nTraining step (forward + backward, train mode, forced masks):\n')
    print(train_table(rows))
    print('\nTime / MSViT all fine within each round (median, min, max over the rounds):\n')
    print(round_spread(rows))
    print('\n' + train_targets(rows))
    print('\nfrozen@r: a gate that does not learn (packed); masked/packed/packed_cf/'
          'packed_query<share>@r: a learning gate in each form; MACs ratio against ViT/16 (masked: every token of both '
          'scales); time / MACs = (time / ViT-SDPA) / MACs ratio; saved for backward: tensors '
          'autograd keeps for backward, parameters excluded.')
    return rows


def main(argv: Optional[List[str]] = None) -> Dict[str, List[Dict]]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = BenchSettings(repeats=args.repeats, warmup=args.warmup, spread=args.spread,
                             device=args.device, seed=args.seed, control=not args.no_control,
                             clock=args.clock)
    print(f'torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} CPU '
          f'thread(s), median of {args.repeats} alternating rounds after {args.warmup} warm-up, '
          f'{args.clock} clock')
    result = dict(inference=[], floor=[], train=[])
    if not args.no_inference:
        result.update(run_inference(args, settings))
    if not args.no_train:
        result['train'] = run_train(args, settings)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(dict(result, args=vars(args), torch=torch.__version__), f, indent=1)
    return result


if __name__ == '__main__':
    main()
