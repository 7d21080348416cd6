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
GPU if ``--device cuda``); see :mod:`msvit_mm.analysis.speed`.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import torch  # noqa: E402

from msvit_mm.analysis.speed import (build_pair, msvit_macs, same_weights_vit,  # noqa: E402
                                     spread_masks, time_variants, train_step, vit_macs,
                                     vit_sdpa_forward)
from msvit_mm.models.backbones.layer_forward import layer_forward  # noqa: E402

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


def _synced(fn, device: torch.device):
    if device.type != 'cuda':
        return fn

    def run():
        out = fn()
        torch.cuda.synchronize(device)
        return out
    return run


def bench_inference(size: int, batch: int, args) -> List[Dict]:
    """One (size, batch): the two ViTs and MSViT at every ratio, timed together."""
    device = torch.device(args.device)
    vit, msvit = (m.to(device) for m in build_pair(img_size=size, seed=args.seed))
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.randn(batch, 3, size, size, generator=gen).to(device)
    grid = (-(-size // msvit.tokenizer.coarse_patch_size),) * 2
    masks = {r: spread_masks(batch, grid, r, args.spread, gen).to(device) for r in args.ratios}
    fns = {'vit': lambda: vit(x), 'vit_sdpa': lambda: vit_sdpa_forward(vit, x)}
    with torch.no_grad():
        tokens = {r: msvit.forward_with_aux(x, m)[1]['tokens_per_image'].tolist()
                  for r, m in masks.items()}
    dense_macs = {}
    for r, m in masks.items():
        fns[f'msvit@{r}'] = (lambda m=m: msvit.forward_with_aux(x, m))
        if not args.no_control:  # a plain ViT-SDPA on an image with the mean token count
            rows = -(-size // msvit.patch_size)
            cols = max(1, round(sum(tokens[r]) / batch / rows))
            ctrl = same_weights_vit(vit, (size, cols * msvit.patch_size)).to(device)
            xc = x[..., :cols * msvit.patch_size]
            fns[f'dense@{r}'] = (lambda c=ctrl, xc=xc: vit_sdpa_forward(c, xc))
            dense_macs[r] = batch * vit_macs(vit, tuple(xc.shape[-2:]))
    with torch.no_grad():
        times = time_variants({k: _synced(f, device) for k, f in fns.items()},
                              args.repeats, args.warmup)
    base_macs = batch * vit_macs(vit, (size, size))
    rows = []
    for r, m in masks.items():
        t = times[f'msvit@{r}']
        macs = sum(msvit_macs(msvit, n, grid[0] * grid[1]) for n in tokens[r])
        macs_ratio = macs / base_macs
        dense_s = times.get(f'dense@{r}', float('nan'))
        dense_quot = dense_s / times['vit_sdpa'] / (dense_macs[r] / base_macs) \
            if r in dense_macs else float('nan')
        rows.append(dict(
            size=size, batch=batch, ratio=r, coarse_mean=m.float().mean().item(),
            tokens_mean=sum(tokens[r]) / batch, msvit_s=t, vit_s=times['vit'],
            vit_sdpa_s=times['vit_sdpa'], dense_s=dense_s, quot_dense=dense_quot,
            lat_vit=t / times['vit'],
            lat_sdpa=t / times['vit_sdpa'], macs_ratio=macs_ratio,
            quot_vit=t / times['vit'] / macs_ratio, quot_sdpa=t / times['vit_sdpa'] / macs_ratio))
    return rows


def bench_floor(size: int, args) -> Dict:
    """The layers' cost that no token saving removes: ViT-SDPA's layers on one token against
    all of an image's tokens (cls included), batch 1, timed together. On one token the time
    is reading the layers' weights."""
    device = torch.device(args.device)
    vit, _ = build_pair(img_size=size, seed=args.seed)
    vit = vit.to(device)
    n = (-(-size // vit.patch_size)) ** 2 + int(vit.with_cls_token)
    c = vit.cls_token.shape[-1]
    xs = {k: torch.randn(1, k, c, device=device) for k in (1, n)}

    def layers(x):
        for layer in vit.layers:
            x = layer_forward(layer, x)
        return x
    with torch.no_grad():
        times = time_variants({k: _synced(lambda x=x: layers(x), device) for k, x in xs.items()},
                              args.repeats, args.warmup)
    weights = sum(p.numel() * p.element_size() for p in vit.layers.parameters())
    return dict(size=size, tokens=n, one_token_s=times[1], all_tokens_s=times[n],
                weight_bytes=weights, share=times[1] / times[n])


def bench_train(args) -> List[Dict]:
    """Forward + backward: ViT, ViT-SDPA, MSViT masked and packed (forced spread masks)."""
    device = torch.device(args.device)
    size, batch = args.train_size, args.train_batch
    vit, msvit = (m.to(device) for m in build_pair(img_size=size, seed=args.seed))
    vit.train()
    msvit.train()
    gen = torch.Generator().manual_seed(args.seed + 1)
    x = torch.randn(batch, 3, size, size, generator=gen).to(device)
    grid = (-(-size // msvit.tokenizer.coarse_patch_size),) * 2
    mask = spread_masks(batch, grid, args.train_ratio, args.spread, gen).to(device)
    vp, mp = list(vit.parameters()), list(msvit.parameters())

    def msvit_run(execution: str):
        def run():
            msvit.execution = execution
            return train_step(lambda: msvit.forward_with_aux(x, mask)[0], mp)
        return run
    fns = {'vit': lambda: train_step(lambda: vit(x), vp),
           'vit_sdpa': lambda: train_step(lambda: vit_sdpa_forward(vit, x), vp),
           'masked': msvit_run('masked'), 'packed': msvit_run('packed')}
    times = time_variants({k: _synced(f, device) for k, f in fns.items()},
                          args.repeats, args.warmup)
    msvit.execution = 'auto'
    tokens = msvit.eval().forward_with_aux(x, mask)[1]['tokens_per_image'].tolist()
    macs = sum(msvit_macs(msvit, n, grid[0] * grid[1]) for n in tokens)
    base = batch * vit_macs(vit, (size, size))
    # masked execution runs every token of both scales
    all_tokens = grid[0] * grid[1] * (1 + msvit.tokenizer.ratio ** 2)
    macs_masked = batch * msvit_macs(msvit, all_tokens, grid[0] * grid[1])
    rows = []
    for name, m in (('vit', base), ('vit_sdpa', base), ('masked', macs_masked),
                    ('packed', macs)):
        rows.append(dict(size=size, batch=batch, ratio=args.train_ratio, variant=name,
                         seconds=times[name], lat_vit=times[name] / times['vit'],
                         lat_sdpa=times[name] / times['vit_sdpa'], macs_ratio=m / base))
    return rows


def inference_table(rows: List[Dict]) -> str:
    head = ('| size | batch | coarse | tokens/img | MSViT ms | ViT ms | ViT-SDPA ms '
            '| lat / ViT | lat / ViT-SDPA | MACs ratio | quotient (ViT) | quotient (ViT-SDPA) '
            '| dense same-tokens ms | MSViT / dense | quotient of dense (ViT-SDPA) |')
    lines = [head, '|' + '---|' * 15]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['batch']} | {r['coarse_mean']:.2f} | {r['tokens_mean']:.0f} "
            f"| {1e3 * r['msvit_s']:.1f} | {1e3 * r['vit_s']:.1f} | {1e3 * r['vit_sdpa_s']:.1f} "
            f"| {r['lat_vit']:.3f} | {r['lat_sdpa']:.3f} | {r['macs_ratio']:.3f} "
            f"| {r['quot_vit']:.3f} | {r['quot_sdpa']:.3f} "
            f"| {1e3 * r['dense_s']:.1f} | {r['msvit_s'] / r['dense_s']:.3f} "
            f"| {r['quot_dense']:.3f} |")
    return '\n'.join(lines)


def target_summary(rows: List[Dict], quotient: float = 1.10, all_fine: float = 1.05) -> str:
    """The targets of the speed work, row by row, against ViT-SDPA (the stricter baseline).

    Coarse ratio > 0: latency ratio / MACs ratio <= ``quotient``; all fine: latency
    ratio <= ``all_fine``. A miss is printed with the dense control's own quotient, what a
    plain ViT with as many tokens gets on this machine.
    """
    missed, met = [], 0
    for r in rows:
        value, bound = ((r['lat_sdpa'], all_fine) if r['coarse_mean'] == 0
                        else (r['quot_sdpa'], quotient))
        if value <= bound:
            met += 1
        else:
            missed.append(f"{r['size']} batch {r['batch']} coarse {r['coarse_mean']:.2f}: "
                          f"{value:.3f} > {bound} (dense control {r['quot_dense']:.3f})")
    lines = [f'targets vs ViT-SDPA (quotient <= {quotient} at coarse > 0, latency ratio <= '
             f'{all_fine} all fine): met {met} of {len(rows)}']
    return '\n'.join(lines + [f'  missed: {m}' for m in missed])


def train_table(rows: List[Dict]) -> str:
    lines = ['| size | batch | coarse | step | ms | / ViT | / ViT-SDPA | MACs ratio |',
             '|' + '---|' * 8]
    for r in rows:
        lines.append(f"| {r['size']} | {r['batch']} | {r['ratio']:.2f} | {r['variant']} "
                     f"| {1e3 * r['seconds']:.1f} | {r['lat_vit']:.3f} | {r['lat_sdpa']:.3f} "
                     f"| {r['macs_ratio']:.3f} |")
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> Dict[str, List[Dict]]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} CPU '
          f'thread(s), median of {args.repeats} alternating rounds after {args.warmup} warm-up')
    inference = []
    for size in args.sizes:
        for batch in args.batches:
            inference += bench_inference(size, batch, args)
            print(f'  done: {size}x{size}, batch {batch}', file=sys.stderr)
    print('\nInference (eval, no_grad), MSViT-S packed vs ViT-S/16:\n')
    print(inference_table(inference))
    print('\n' + target_summary(inference))
    floors = [bench_floor(size, args) for size in args.sizes]
    print('\nPer-forward floor (ViT-SDPA layers, batch 1): one token against all tokens:')
    for f in floors:
        print(f"  {f['size']}x{f['size']}: {1e3 * f['one_token_s']:.1f} ms on 1 token, "
              f"{1e3 * f['all_tokens_s']:.1f} ms on {f['tokens']} ({100 * f['share']:.0f}%); "
              f"the layers hold {f['weight_bytes'] / 1e6:.0f} MB of weights")
    result = dict(inference=inference, floor=floors, train=[])
    if not args.no_train:
        result['train'] = bench_train(args)
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
