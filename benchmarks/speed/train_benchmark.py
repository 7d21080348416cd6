"""The training-step benchmark: forward + backward of MSViT in each training form, as ratios.

What ``benchmarks/speed/benchmark_packed.py --train-*`` runs. For an image size and
batch, every variant is timed in the same alternating rounds (``speed.time_variants``):

- ``vit``, ``vit_sdpa``: mmseg's ViT/16 as it runs, and with fused attention (the fair
  baseline, :func:`~benchmarks.speed.speed.vit_sdpa_forward`); same weights as MSViT.
- ``frozen@r``: MSViT with a gate that does not learn (frozen), forced decisions with coarse
  ratio ``r`` spread over the batch: ``execution='auto'`` trains it packed. ``frozen@0`` is
  MSViT all fine, the all-fine baseline.
- ``dense@r`` (backbone level, with ``control``): ViT-SDPA on an image cut to as many tokens
  as the ``frozen@r`` images have on average, what this machine does with fewer tokens at all.
- the forms for a learning gate, at the ratios of ``learning_ratios``: ``masked@r`` (both
  scales run), ``packed@r`` (only the tokens that exist; absent scale read as zeros in the
  gate gradient), ``packed_cf@r`` (the same, with the 'fine_mean' counterfactual),
  ``packed_query<s>@r`` (packed plus query-only fine tokens for a share ``s`` of each
  image's coarse regions, ``execution='packed_query'``, at every ``query_shares``) and,
  with ``masked_query``, ``masked_query@r`` (masked's gradients, absent tokens query-only).

Two levels: the backbone alone (loss: mean square of every output map, as
``speed.train_step``) and the whole segmentor of a config (backbone, neck, decode and
auxiliary heads with their losses on random labels). Each row has the time, its ratio to
ViT-SDPA and to MSViT all fine, the MACs ratio beside it (analytic for the backbone; the
neck and heads counted by mmengine's counter once per size, the same for every variant) and
the memory of the step: the bytes of the tensors autograd saves for backward (parameters
excluded; each storage once), and on CUDA ``max_memory_allocated``.
"""
import inspect
import statistics
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.model import revert_sync_batchnorm
from mmengine.structures import PixelData
from mmseg.models.backbones import VisionTransformer
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor, nn

from msvit_mm.analysis.markdown import markdown_table
from msvit_mm.ops.patchify import grid_size
from msvit_mm.ops.query_layout import quota

from .speed import (build_pair, msvit_macs, same_weights_vit, spread_masks, train_step,
                    vit_macs, vit_sdpa_forward)
from .speed_benchmark import BenchSettings, timed

__all__ = ['LEARNING_FORMS', 'bench_train', 'learning_forms', 'round_spread', 'saved_tensor_bytes', 'train_table',
           'train_targets']

# name -> (execution, packed_counterfactual) of a learning gate (query shares below)
LEARNING_FORMS = {'masked': ('masked', 'zero'), 'packed': ('packed', 'zero'),
                  'packed_cf': ('packed', 'fine_mean')}


def learning_forms(query_shares: Sequence[float] = (), masked_query: bool = False,
                   image_shares: Sequence[float] = ()) -> Dict[str, tuple]:
    """name -> (execution, packed_counterfactual, query_share, query_image_share):
    :data:`LEARNING_FORMS`, ``packed_query<s>`` for every share ``s``, if asked
    ``masked_query``, and ``masked_query_img<s>`` (masked_query on a share ``s`` of the
    batch's images) for every ``image_shares``."""
    forms = {k: v + (1., 1.) for k, v in LEARNING_FORMS.items()}
    forms.update({f'packed_query{s:g}': ('packed_query', 'zero', s, 1.) for s in query_shares})
    if masked_query:
        forms['masked_query'] = ('masked_query', 'zero', 1., 1.)
    forms.update({f'masked_query_img{s:g}': ('masked_query', 'zero', 1., s)
                  for s in image_shares})
    return forms


def saved_tensor_bytes(step: Callable[[], object], exclude: Sequence[Tensor] = ()) -> int:
    """Bytes of the tensors autograd saves for backward during ``step()``.

    Each storage counted once; the storages of ``exclude`` (the parameters) are left out.
    """
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: Dict[int, int] = {}

    def pack(t: Tensor) -> Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in skip:
            seen[storage.data_ptr()] = storage.nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(seen.values())


def _samples(batch: int, hw, num_classes: int, gen: torch.Generator) -> list:
    samples = []
    for _ in range(batch):
        s = SegDataSample(metainfo=dict(img_shape=hw, ori_shape=hw, pad_shape=hw))
        s.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, *hw), generator=gen))
        samples.append(s)
    return samples


class _Heads(nn.Module):
    """Neck, decode and auxiliary heads of a segmentor on backbone features (for counting)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *feats: Tensor):
        m = self.model
        x = m.neck(list(feats)) if m.with_neck else list(feats)
        outs = [m.decode_head(x)]
        if m.with_auxiliary_head:
            aux = m.auxiliary_head
            outs += [a(x) for a in aux] if isinstance(aux, nn.ModuleList) else [aux(x)]
        return outs


def _head_macs(model: nn.Module, feats: Sequence[Tensor]) -> int:
    """MACs of the neck and heads on one image's features (training mode's modules)."""
    one = tuple(f[:1].detach() for f in feats)
    was = model.training
    model.eval()
    try:
        fa = FlopAnalyzer(_Heads(model), one)
        fa.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        with torch.no_grad():
            return int(fa.total())
    finally:
        model.train(was)


def _build_segmentor(config, size: int, seed: int):
    """The config's segmentor (SyncBN -> BN) and a mmseg ViT with its backbone's weights."""
    cfg = config.model.copy()
    cfg['backbone'] = dict(cfg['backbone'], img_size=size, init_cfg=None, drop_path_rate=0.)
    cfg.pop('pretrained', None)
    torch.manual_seed(seed)
    model = revert_sync_batchnorm(MODELS.build(cfg))
    model.init_weights()
    vit_args = inspect.signature(VisionTransformer.__init__).parameters
    vit = VisionTransformer(**{k: v for k, v in cfg['backbone'].items() if k in vit_args})
    vit.load_state_dict(model.backbone.state_dict(), strict=False)  # all but the gate
    return model, vit


def bench_train(size: int, batch: int, ratios: Sequence[float], s: BenchSettings,
                learning_ratios: Sequence[float] = (0.5,), config=None,
                query_shares: Sequence[float] = (), masked_query: bool = False,
                image_shares: Sequence[float] = (),
                only: Optional[Sequence[str]] = None) -> List[Dict]:
    """Time one training step of every variant (module doc) for one (size, batch).

    Args:
        ratios: coarse ratios of the frozen-gate rows (include 0: MSViT all fine).
        learning_ratios: ratios at which the learning-gate forms are timed.
        query_shares: the shares of the ``packed_query<s>`` forms (none: not timed).
        masked_query: time the ``masked_query`` form too.
        image_shares: the image shares of the ``masked_query_img<s>`` forms (none: not timed).
        only: time only the variants whose names start with one of these (``vit_sdpa``
            always); None: every variant.
        config: an mmengine Config whose ``model`` is an MSViT segmentor (whole step), or
            None: the MSViT-S backbone alone (``speed.build_pair``).

    Returns:
        one dict per variant: ``level`` ('backbone' | 'segmentor'), size, batch, variant,
        ratio, ``seconds``, ``vs_sdpa`` / ``vs_fine`` (time ratios; ``vs_fine_rounds``: the
        ratio to MSViT all fine within each timed round), ``macs_ratio`` (to
        ViT/16), ``saved_mb``, ``cuda_peak_mb`` (nan on CPU), ``tokens_mean``.
    """
    device = torch.device(s.device)
    gen = torch.Generator().manual_seed(s.seed + 1)
    if config is None:
        vit, msvit = build_pair(img_size=size, seed=s.seed)
        model = msvit
    else:
        model, vit = _build_segmentor(config, size, s.seed)
        msvit = model.backbone
    model.to(device).train()
    vit.to(device).train()
    x = torch.randn(batch, 3, size, size, generator=gen).to(device)
    samples = None if config is None else [
        d.to(device) for d in _samples(batch, (size, size), model.decode_head.num_classes, gen)]
    grid = grid_size((size, size), msvit.tokenizer.coarse_patch_size)
    gate = msvit.tokenizer.gate
    params = [p for p in model.parameters()] + [p for p in vit.parameters()]

    def heads_loss(feats) -> Tensor:
        x_ = model.neck(list(feats)) if model.with_neck else list(feats)
        losses = dict(model._decode_head_forward_train(x_, samples))
        if model.with_auxiliary_head:
            losses.update(model._auxiliary_head_forward_train(x_, samples))
        return sum(v for k, v in losses.items() if 'loss' in k)

    def step(features: Callable[[], Sequence[Tensor]]) -> Callable[[], None]:
        return lambda: train_step(features, params, None if config is None else heads_loss)

    def msvit_step(mask, learning: bool, form=('masked', 'zero', 1., 1.)):
        def features():
            gate.requires_grad_(learning)
            # a frozen gate: packed, what 'auto' runs
            return msvit.forward_with_aux(x, mask, form[0] if learning else 'packed', form[1],
                                          form[2], form[3])[0]
        return step(features)

    masks = {r: spread_masks(batch, grid, r, s.spread, gen).to(device)
             for r in sorted(set(ratios) | set(learning_ratios))}
    msvit.eval()
    with torch.no_grad():
        tokens = {r: msvit.forward_with_aux(x, m)[1]['tokens_per_image'].tolist()
                  for r, m in masks.items()}
    msvit.train()
    fns = {'vit': step(lambda: vit(x)), 'vit_sdpa': step(lambda: vit_sdpa_forward(vit, x))}
    hv, wv = grid_size((size, size), msvit.patch_size)
    dense_macs = {}
    if config is None and s.control:  # ViT-SDPA on an image with the mean token count
        for r in (r for r in ratios if r > 0):
            cols = max(1, round(sum(tokens[r]) / batch / hv))
            ctrl = same_weights_vit(vit, (size, cols * msvit.patch_size)).to(device)
            ctrl.train()  # mmseg's ViT.train() returns None
            xc = x[..., :cols * msvit.patch_size]
            fns[f'dense@{r:g}'] = step(lambda c=ctrl, xc=xc: vit_sdpa_forward(c, xc))
            dense_macs[f'dense@{r:g}'] = (r, batch * vit_macs(ctrl, tuple(xc.shape[-2:])),
                                          float(hv * cols))
            params += list(ctrl.parameters())
    variants = {}  # name -> (ratio, execution it runs, query share, image share)
    for r in ratios:
        fns[f'frozen@{r:g}'] = msvit_step(masks[r], False)
        variants[f'frozen@{r:g}'] = (r, 'packed', 1., 1.)
    for r in learning_ratios:
        for name, form in learning_forms(query_shares, masked_query, image_shares).items():
            fns[f'{name}@{r:g}'] = msvit_step(masks[r], True, form)
            variants[f'{name}@{r:g}'] = (r, form[0], form[2], form[3])
    if only is not None:
        fns = {k: f for k, f in fns.items()
               if k == 'vit_sdpa' or any(k.startswith(o) for o in only)}
    calls: Dict[str, List[float]] = {k: [] for k in fns}
    times = timed({k: _recorded(f, calls[k], s.now) for k, f in fns.items()}, s)
    rounds = {k: v[s.warmup:s.warmup + s.repeats] for k, v in calls.items()}
    memory = {k: _memory(fn, params, device) for k, fn in fns.items()}
    gate.requires_grad_(True)

    vit.eval()  # mmseg's ViT.eval() returns None: no chaining
    with torch.no_grad():
        head = 0 if config is None else _head_macs(model, vit_sdpa_forward(vit, x))
    regions = grid[0] * grid[1]
    every = regions * (1 + msvit.tokenizer.scale ** 2)  # masked runs both scales
    base = batch * (vit_macs(vit, (size, size)) + head)
    macs = {'vit': base, 'vit_sdpa': base}
    for name, (r, execution, share, image_share) in variants.items():
        counts = [every] * batch if execution in ('masked', 'masked_query') else tokens[r]
        if execution == 'packed_query':  # + the query tokens (forward only; attention to
            # the real keys counted as if among them)
            coarse = masks[r].flatten(1).sum(1).tolist()
            counts = [n + msvit.tokenizer.scale ** 2 * quota(share, k)
                      for n, k in zip(counts, coarse)]
        macs[name] = sum(msvit_macs(msvit, n, regions) + head for n in counts)
        if image_share < 1:  # the sampled images as counted above, the others packed
            part = quota(image_share, batch) / batch
            packed = sum(msvit_macs(msvit, n, regions) + head for n in tokens[r])
            macs[name] = part * macs[name] + (1 - part) * packed
    fine = times.get('frozen@0', float('nan'))
    info = {name: (r, sum(tokens[r]) / batch) for name, (r, *_) in variants.items()}
    for name, (r, m, n) in dense_macs.items():
        macs[name], info[name] = m, (r, n)
    level = 'backbone' if config is None else 'segmentor'
    return [dict(level=level, size=size, batch=batch, variant=name,
                 ratio=info.get(name, (0.,))[0], seconds=t, vs_sdpa=t / times['vit_sdpa'],
                 vs_fine=t / fine, macs_ratio=macs[name] / base,
                 vs_fine_rounds=[a / b for a, b in zip(rounds[name], rounds.get(
                     'frozen@0', [float('nan')] * len(rounds[name])))],
                 tokens_mean=info.get(name, (0., float(hv * wv)))[1],
                 **memory[name]) for name, t in times.items()]


def _recorded(fn: Callable[[], None], into: List[float], clock: Callable[[], float]
              ) -> Callable[[], None]:
    """``fn`` that appends the ``clock`` seconds of each call to ``into`` (one call per
    round)."""
    def call() -> None:
        start = clock()
        fn()
        into.append(clock() - start)
    return call


def round_spread(rows: List[Dict]) -> str:
    """Markdown table: each variant's time / MSViT all fine as the median of the per-round
    ratios and their range (min-max over the timed rounds)."""
    return markdown_table(['level', 'size', 'batch', 'variant', 'median of round ratios',
                           'min', 'max'], ([
        r['level'], r['size'], r['batch'], r['variant'],
        f"{statistics.median(r['vs_fine_rounds']):.3f}", f"{min(r['vs_fine_rounds']):.3f}",
        f"{max(r['vs_fine_rounds']):.3f}"] for r in rows if r['vs_fine_rounds']))


def _memory(fn: Callable[[], None], params: Sequence[Tensor], device: torch.device) -> Dict:
    peak = float('nan')
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    saved = saved_tensor_bytes(fn, params)
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device) / 2 ** 20
    return dict(saved_mb=saved / 2 ** 20, cuda_peak_mb=peak)


def train_table(rows: List[Dict]) -> str:
    """Markdown table of :func:`bench_train` rows (a CUDA peak column when measured)."""
    cuda = any(r['cuda_peak_mb'] == r['cuda_peak_mb'] for r in rows)  # not nan
    head = ['level', 'size', 'batch', 'variant', 'coarse', 'tokens/img', 'ms', '/ ViT-SDPA',
            '/ MSViT all fine', 'MACs ratio', 'time / MACs', 'saved for backward MB'
            ] + (['CUDA peak MB'] if cuda else [])
    return markdown_table(head, ([
        r['level'], r['size'], r['batch'], r['variant'], f"{r['ratio']:.2f}",
        f"{r['tokens_mean']:.0f}", f"{1e3 * r['seconds']:.0f}", f"{r['vs_sdpa']:.3f}",
        f"{r['vs_fine']:.3f}", f"{r['macs_ratio']:.3f}", f"{r['vs_sdpa'] / r['macs_ratio']:.3f}",
        f"{r['saved_mb']:.0f}"] + ([f"{r['cuda_peak_mb']:.0f}"] if cuda else []) for r in rows))


def train_targets(rows: List[Dict], quotient: float = 1.10, all_fine: float = 1.03,
                  batch: int = 8, sizes: Optional[Sequence[int]] = (256, 512)) -> str:
    """The training targets, row by row: a gate that does not learn (``frozen@r``), batch
    ``batch``, the given sizes: time / ViT-SDPA <= ``quotient`` x MACs ratio at r > 0, and
    <= ``all_fine`` x ViT-SDPA's step all fine."""
    dense = {(r['level'], r['size'], r['batch'], r['ratio']): r['vs_sdpa'] / r['macs_ratio']
             for r in rows if r['variant'].startswith('dense@')}
    met, missed, n = 0, [], 0
    for r in rows:
        if not r['variant'].startswith('frozen@') or r['batch'] != batch or (
                sizes and r['size'] not in sizes):
            continue
        n += 1
        value, bound = ((r['vs_sdpa'], all_fine) if r['ratio'] == 0
                        else (r['vs_sdpa'] / r['macs_ratio'], quotient))
        if value <= bound:
            met += 1
        else:
            control = dense.get((r['level'], r['size'], r['batch'], r['ratio']))
            missed.append(f"{r['level']} {r['size']} coarse {r['ratio']:.2f}: "
                          f"{value:.3f} > {bound}" + (
                              f' (dense same-tokens control: {control:.3f})' if control else ''))
    head = (f'training targets (frozen gate, batch {batch}, sizes {list(sizes or [])}): '
            f'met {met} of {n}')
    return '\n'.join([head] + [f'  missed: {m}' for m in missed])
