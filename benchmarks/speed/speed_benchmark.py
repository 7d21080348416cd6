"""The backbone speed benchmark: MSViT-S packed execution against ViT-S/16, as ratios.

What ``benchmarks/speed/benchmark_packed.py`` runs and prints (the tool parses the
arguments). Inference (eval, no_grad): for an image size, batch and forced coarse ratios
(per-image ratios spread around each, :func:`~benchmarks.speed.speed.spread_masks`), the
MSViT backbone in packed execution (learned gate running, its decisions replaced by the
forced ones), mmseg's ViT as it runs and the same ViT with fused attention (``ViT-SDPA``)
are timed in the same alternating rounds; with a dense control, ViT-SDPA on an image with
as many tokens as the MSViT images have on average. The per-forward floor: ViT-SDPA's layers
on one token against all of an image's tokens. (The training step: :mod:`.train_benchmark`.)
MACs are analytic (``speed.msvit_macs``,
``speed.vit_macs``); quotient = latency ratio / MACs ratio (1 = time falls as MACs do).
"""
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence

import torch

from msvit_mm.analysis.markdown import markdown_table
from msvit_mm.models.backbones.layer_forward import layer_forward
from msvit_mm.ops.layouts import GridLayout
from msvit_mm.ops.patchify import grid_size

from .speed import (build_pair, msvit_macs, same_weights_vit, spread_masks, time_variants,
                    vit_macs, vit_sdpa_forward)

__all__ = ['BenchSettings', 'bench_floor', 'bench_inference', 'inference_table',
           'target_summary', 'timed']


@dataclass
class BenchSettings:
    """How to time: ``repeats`` rounds (median kept) after ``warmup``; forced masks spread
    over ratio +- ``spread``; ``control``: time the dense control too; ``clock``: 'wall'
    (``time.perf_counter``) or 'cpu' (``time.process_time``, this process's CPU seconds:
    on a CPU shared with other processes, time lost to them is not counted)."""
    repeats: int = 5
    warmup: int = 1
    spread: float = 0.2
    device: str = 'cpu'
    seed: int = 0
    control: bool = True
    clock: str = 'wall'

    def __post_init__(self) -> None:
        if self.clock not in CLOCKS:
            raise ValueError(f'clock={self.clock!r} is not one of {tuple(CLOCKS)}')
        if self.clock == 'cpu' and self.device != 'cpu':
            raise ValueError("clock='cpu' times CPU work only: use it with device='cpu'")

    def now(self) -> float:
        return CLOCKS[self.clock]()


CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}


def _synced(fn: Callable, device: torch.device) -> Callable:
    if device.type != 'cuda':
        return fn

    def run():
        out = fn()
        torch.cuda.synchronize(device)
        return out
    return run


def timed(fns: Dict[str, Callable], s: BenchSettings) -> Dict[str, float]:
    """:func:`~msvit_mm.analysis.throughput.time_variants` with the settings' rounds, each call
    synchronized on CUDA (kernels are asynchronous)."""
    device = torch.device(s.device)
    return time_variants({k: _synced(f, device) for k, f in fns.items()}, s.repeats, s.warmup,
                         clock=s.now)


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
        times = timed(fns, s)
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
        times = timed({k: (lambda x=x: layers(x)) for k, x in xs.items()}, s)
    weights = sum(p.numel() * p.element_size() for p in vit.layers.parameters())
    return dict(size=size, tokens=n, one_token_s=times[1], all_tokens_s=times[n],
                weight_bytes=weights, share=times[1] / times[n])


def inference_table(rows: List[Dict]) -> str:
    head = ['size', 'batch', 'coarse', 'tokens/img', 'MSViT ms', 'ViT ms', 'ViT-SDPA ms',
            'lat / ViT', 'lat / ViT-SDPA', 'MACs ratio', 'quotient (ViT)', 'quotient (ViT-SDPA)',
            'dense same-tokens ms', 'MSViT / dense', 'quotient of dense (ViT-SDPA)']
    return markdown_table(head, ([
        r['size'], r['batch'], f"{r['coarse_mean']:.2f}", f"{r['tokens_mean']:.0f}",
        f"{1e3 * r['msvit_s']:.1f}", f"{1e3 * r['vit_s']:.1f}", f"{1e3 * r['vit_sdpa_s']:.1f}",
        f"{r['lat_vit']:.3f}", f"{r['lat_sdpa']:.3f}", f"{r['macs_ratio']:.3f}",
        f"{r['quot_vit']:.3f}", f"{r['quot_sdpa']:.3f}", f"{1e3 * r['dense_s']:.1f}",
        f"{r['msvit_s'] / r['dense_s']:.3f}", f"{r['quot_dense']:.3f}"] for r in rows))


def target_summary(rows: List[Dict], dense: float = 1.05, dense_small_batch1: float = 1.10,
                   all_fine: float = 1.03) -> str:
    """The inference targets, row by row.

    Coarse ratio > 0: MSViT packed / the dense control (ViT-SDPA on as many tokens, so the
    machine's own way with fewer tokens is factored out) <= ``dense``, or
    ``dense_small_batch1`` at batch 1 below 512x512 (the per-forward floor weighs most there);
    all fine: MSViT / ViT-SDPA <= ``all_fine``. A miss is printed with the MACs quotient.
    """
    missed, met = [], 0
    for r in rows:
        if r['coarse_mean'] == 0:
            value, bound, what = r['lat_sdpa'], all_fine, 'MSViT / ViT-SDPA'
        else:
            bound = dense_small_batch1 if r['batch'] == 1 and r['size'] < 512 else dense
            value, what = r['msvit_s'] / r['dense_s'], 'MSViT / dense'
        if value <= bound:
            met += 1
        else:
            missed.append(f"{r['size']} batch {r['batch']} coarse {r['coarse_mean']:.2f}: "
                          f"{what} {value:.3f} > {bound} (MACs quotient {r['quot_sdpa']:.3f})")
    lines = [f'inference targets (MSViT / dense same-tokens <= {dense}, {dense_small_batch1} at '
             f'batch 1 below 512; all fine <= {all_fine}x ViT-SDPA): met {met} of {len(rows)}']
    return '\n'.join(lines + [f'  missed: {m}' for m in missed])
