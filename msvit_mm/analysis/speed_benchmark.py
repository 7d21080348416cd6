"""The backbone speed benchmark: MSViT-S packed execution against ViT-S/16, as ratios.

What ``tools/analysis_tools/benchmark_packed.py`` runs and prints (the tool parses the
arguments). Inference (eval, no_grad): for an image size, batch and forced coarse ratios
(per-image ratios spread around each, :func:`~msvit_mm.analysis.speed.spread_masks`), the
MSViT backbone in packed execution (learned gate running, its decisions replaced by the
forced ones), mmseg's ViT as it runs and the same ViT with fused attention (``ViT-SDPA``)
are timed in the same alternating rounds; with a dense control, ViT-SDPA on an image with
as many tokens as the MSViT images have on average. The per-forward floor: ViT-SDPA's layers
on one token against all of an image's tokens. Training: forward + backward of both ViTs
and MSViT in masked and packed execution. MACs are analytic (``speed.msvit_macs``,
``speed.vit_macs``); quotient = latency ratio / MACs ratio (1 = time falls as MACs do).
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence

import torch

from ..models.backbones.layer_forward import layer_forward
from ..ops.layouts import GridLayout
from ..ops.patchify import grid_size
from .speed import (build_pair, msvit_macs, same_weights_vit, spread_masks, time_variants,
                    train_step, vit_macs, vit_sdpa_forward)

__all__ = ['BenchSettings', 'bench_floor', 'bench_inference', 'bench_train', 'inference_table',
           'target_summary', 'train_table']


@dataclass
class BenchSettings:
    """How to time: ``repeats`` rounds (median kept) after ``warmup``; forced masks spread
    over ratio +- ``spread``; ``control``: time the dense control too."""
    repeats: int = 5
    warmup: int = 1
    spread: float = 0.2
    device: str = 'cpu'
    seed: int = 0
    control: bool = True


def _synced(fn: Callable, device: torch.device) -> Callable:
    if device.type != 'cuda':
        return fn

    def run():
        out = fn()
        torch.cuda.synchronize(device)
        return out
    return run


def _timed(fns: Dict[str, Callable], s: BenchSettings) -> Dict[str, float]:
    device = torch.device(s.device)
    return time_variants({k: _synced(f, device) for k, f in fns.items()}, s.repeats, s.warmup)


def bench_inference(size: int, batch: int, ratios: Sequence[float],
                    s: BenchSettings) -> List[Dict]:
    """One (size, batch): the two ViTs and MSViT at every ratio, timed together; a row per
    ratio."""
    device = torch.device(s.device)
    vit, msvit = (m.to(device) for m in build_pair(img_size=size, seed=s.seed))
    gen = torch.Generator().manual_seed(s.seed)
    x = torch.randn(batch, 3, size, size, generator=gen).to(device)
    grid = grid_size((size, size), msvit.tokenizer.coarse_patch_size)
    masks = {r: spread_masks(batch, grid, r, s.spread, gen).to(device) for r in ratios}
    fns = {'vit': lambda: vit(x), 'vit_sdpa': lambda: vit_sdpa_forward(vit, x)}
    with torch.no_grad():
        tokens = {r: msvit.forward_with_aux(x, m)[1]['tokens_per_image'].tolist()
                  for r, m in masks.items()}
    dense_macs = {}
    for r, m in masks.items():
        fns[f'msvit@{r}'] = (lambda m=m: msvit.forward_with_aux(x, m))
        if s.control:  # a plain ViT-SDPA on an image with the mean token count
            rows = grid_size((size, size), msvit.patch_size)[0]
            cols = max(1, round(sum(tokens[r]) / batch / rows))
            ctrl = same_weights_vit(vit, (size, cols * msvit.patch_size)).to(device)
            xc = x[..., :cols * msvit.patch_size]
            fns[f'dense@{r}'] = (lambda c=ctrl, xc=xc: vit_sdpa_forward(c, xc))
            dense_macs[r] = batch * vit_macs(vit, tuple(xc.shape[-2:]))
    with torch.no_grad():
        times = _timed(fns, s)
    base_macs = batch * vit_macs(vit, (size, size))
    out = []
    for r, m in masks.items():
        t = times[f'msvit@{r}']
        macs_ratio = sum(msvit_macs(msvit, n, grid[0] * grid[1]) for n in tokens[r]) / base_macs
        dense_s = times.get(f'dense@{r}', float('nan'))
        dense_quot = dense_s / times['vit_sdpa'] / (dense_macs[r] / base_macs) \
            if r in dense_macs else float('nan')
        out.append(dict(
            size=size, batch=batch, ratio=r, coarse_mean=m.float().mean().item(),
            tokens_mean=sum(tokens[r]) / batch, msvit_s=t, vit_s=times['vit'],
            vit_sdpa_s=times['vit_sdpa'], dense_s=dense_s, quot_dense=dense_quot,
            lat_vit=t / times['vit'], lat_sdpa=t / times['vit_sdpa'], macs_ratio=macs_ratio,
            quot_vit=t / times['vit'] / macs_ratio, quot_sdpa=t / times['vit_sdpa'] / macs_ratio))
    return out


def bench_floor(size: int, s: BenchSettings) -> Dict:
    """The layers' cost that no token saving removes: ViT-SDPA's layers on one token against
    all of an image's tokens (cls included), batch 1, timed together. On one token the time
    is reading the layers' weights."""
    device = torch.device(s.device)
    vit = build_pair(img_size=size, seed=s.seed)[0].to(device)
    h, w = grid_size((size, size), vit.patch_size)
    n = h * w + int(vit.with_cls_token)
    c = vit.cls_token.shape[-1]
    xs = {k: torch.randn(1, k, c, device=device) for k in (1, n)}

    def layers(x):
        layout = GridLayout(num_prefix=0, hw=(1, x.shape[1]))
        for layer in vit.layers:
            x = layer_forward(layer, x, layout)
        return x
    with torch.no_grad():
        times = _timed({k: (lambda x=x: layers(x)) for k, x in xs.items()}, s)
    weights = sum(p.numel() * p.element_size() for p in vit.layers.parameters())
    return dict(size=size, tokens=n, one_token_s=times[1], all_tokens_s=times[n],
                weight_bytes=weights, share=times[1] / times[n])


def bench_train(size: int, batch: int, ratio: float, s: BenchSettings) -> List[Dict]:
    """Forward + backward: ViT, ViT-SDPA, MSViT masked and packed (forced spread masks)."""
    device = torch.device(s.device)
    vit, msvit = (m.to(device) for m in build_pair(img_size=size, seed=s.seed))
    vit.train()
    msvit.train()
    gen = torch.Generator().manual_seed(s.seed + 1)
    x = torch.randn(batch, 3, size, size, generator=gen).to(device)
    grid = grid_size((size, size), msvit.tokenizer.coarse_patch_size)
    mask = spread_masks(batch, grid, ratio, s.spread, gen).to(device)
    vp, mp = list(vit.parameters()), list(msvit.parameters())

    def msvit_run(execution: str):
        def run():
            msvit.execution = execution
            return train_step(lambda: msvit.forward_with_aux(x, mask)[0], mp)
        return run
    times = _timed({'vit': lambda: train_step(lambda: vit(x), vp),
                    'vit_sdpa': lambda: train_step(lambda: vit_sdpa_forward(vit, x), vp),
                    'masked': msvit_run('masked'), 'packed': msvit_run('packed')}, s)
    msvit.execution = 'auto'
    tokens = msvit.eval().forward_with_aux(x, mask)[1]['tokens_per_image'].tolist()
    regions = grid[0] * grid[1]
    base = batch * vit_macs(vit, (size, size))
    # masked execution runs every token of both scales
    all_tokens = regions * (1 + msvit.tokenizer.scale ** 2)
    macs = dict(vit=base, vit_sdpa=base,
                masked=batch * msvit_macs(msvit, all_tokens, regions),
                packed=sum(msvit_macs(msvit, n, regions) for n in tokens))
    return [dict(size=size, batch=batch, ratio=ratio, variant=name, seconds=times[name],
                 lat_vit=times[name] / times['vit'], lat_sdpa=times[name] / times['vit_sdpa'],
                 macs_ratio=m / base) for name, m in macs.items()]


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
