"""Speed of packed (variable-length) MSViT execution against a fixed-length ViT/16.

Timing helpers for ``benchmarks/speed/benchmark_packed.py``: every variant is timed in
the same run, in rounds whose order alternates (forward, then reversed), after warm-up
rounds, and the median over rounds is kept; speeds are reported as ratios to a baseline
timed in the same rounds (a shared machine is noisy; see docs/design.md, "Counting FLOPs and
time").

Two baselines with the same widths and weights: mmseg's ``VisionTransformer`` as it runs
(``nn.MultiheadAttention``: explicit ``Q K^T``, softmax, ``A V``) and the same ViT with its
attention through the fused ``F.scaled_dot_product_attention`` (:func:`vit_sdpa_forward`,
MSViT's own layer loop on a plain ViT sequence), so that a latency ratio measures the tokens
saved, not the kernel.

MACs are counted analytically (:func:`msvit_macs`, :func:`vit_macs`), with the convention of
docs/design.md: per layer ``n (4 C^2 + 2 r C^2) + 2 n^2 C`` for n tokens (cls included) and MLP
ratio r, plus the patch embedding of the tokens that exist and, for MSViT, the gate MLP on
every coarse region; LayerNorm, poolings, softmax and additions are left out.

Example::

    vit, msvit = build_pair(img_size=512)
    x = torch.randn(8, 3, 512, 512)
    masks = spread_masks(8, (16, 16), 0.5, generator=torch.Generator().manual_seed(0))
    times = time_variants({'vit': lambda: vit_sdpa_forward(vit, x),
                           'msvit': lambda: msvit.forward_with_aux(x, masks)}, repeats=5)
"""
from typing import Callable, Optional, Sequence, Tuple

import torch
from mmseg.models.backbones import VisionTransformer
from torch import Tensor, nn

from msvit_mm.analysis.throughput import time_variants
from msvit_mm.models.backbones import MSViT
from msvit_mm.models.backbones.layer_forward import run_layers
from msvit_mm.ops.layouts import GridLayout
from msvit_mm.ops.patchify import grid_size

__all__ = ['VIT_S', 'build_pair', 'gate_macs_per_region', 'msvit_macs', 'same_weights_vit',
           'spread_masks', 'time_variants', 'train_step', 'vit_macs', 'vit_sdpa_forward']

VIT_S = dict(patch_size=16, embed_dims=384, num_layers=12, num_heads=6, mlp_ratio=4,
             out_indices=(2, 5, 8, 11), final_norm=True, drop_rate=0., attn_drop_rate=0.,
             drop_path_rate=0.)


def build_pair(img_size: int = 512, seed: int = 0, coarse_patch_size: int = 32,
               **kwargs) -> Tuple[VisionTransformer, MSViT]:
    """mmseg's ViT (random init) and an MSViT (learned gate) holding the same weights.

    ``kwargs`` override :data:`VIT_S`. Both are returned in eval mode.
    """
    torch.manual_seed(seed)
    cfg = dict(VIT_S, img_size=img_size, **kwargs)
    vit = VisionTransformer(**cfg)
    vit.init_weights()
    msvit = MSViT(**cfg, coarse_patch_size=coarse_patch_size)  # gate: MLPGate()
    msvit.init_weights()
    msvit.load_state_dict(vit.state_dict(), strict=False)  # the gate keeps its init
    vit.eval()  # mmseg's ViT.train() returns None: no chaining
    return vit, msvit.eval()


def same_weights_vit(vit: VisionTransformer, img_size: Tuple[int, int]) -> VisionTransformer:
    """A copy of ``vit`` for another ``img_size`` (position embeddings resized once), eval mode.

    Used as a dense control: a plain ViT on an image with as many tokens as an MSViT image.
    """
    kwargs = {k: getattr(vit, k) for k in ('patch_size', 'with_cls_token', 'output_cls_token',
                                           'final_norm', 'interpolate_mode', 'out_indices',
                                           'pre_norm', 'out_origin')}
    c = vit.cls_token.shape[-1]
    layer = vit.layers[0]
    other = VisionTransformer(
        img_size=img_size, embed_dims=c, num_layers=len(vit.layers),
        num_heads=layer.attn.attn.num_heads,
        mlp_ratio=layer.ffn.layers[0][0].out_features // c, **kwargs)
    state = dict(vit.state_dict())
    grid = (img_size[0] // vit.patch_size, img_size[1] // vit.patch_size)  # floor, as mmseg
    src = (vit.img_size[0] // vit.patch_size, vit.img_size[1] // vit.patch_size)
    state['pos_embed'] = vit.resize_pos_embed(state['pos_embed'], grid, src,
                                              vit.interpolate_mode)
    other.load_state_dict(state)
    other.eval()
    return other


def vit_sdpa_forward(vit: VisionTransformer, x: Tensor) -> tuple:
    """mmseg's ``VisionTransformer.forward`` with the fused attention of MSViT's layers.

    Same modules, weights and outputs ([B, C, h, w] maps at ``out_indices``); the embedding
    is mmseg's, the layers run through MSViT's loop (``run_layers``) on a
    :class:`~msvit_mm.ops.layouts.GridLayout`, so only the attention call differs
    (``F.scaled_dot_product_attention``).
    """
    b = x.shape[0]
    tokens, hw = vit.patch_embed(x)
    tokens = torch.cat((vit.cls_token.expand(b, -1, -1), tokens), dim=1)
    tokens = vit._pos_embeding(tokens, hw, vit.pos_embed)
    if not vit.with_cls_token:
        tokens = tokens[:, 1:]
    return tuple(run_layers(vit, tokens, GridLayout(int(vit.with_cls_token), tuple(hw))))


def spread_masks(batch: int, grid: Tuple[int, int], ratio: float, spread: float = 0.2,
                 generator: torch.Generator = None) -> Tensor:
    """Forced decisions [B, Hc, Wc] bool whose per-image coarse ratios spread around ``ratio``.

    Image i keeps ``round((ratio + d_i) * Hc * Wc)`` random regions coarse, d_i evenly spaced
    in ``[-s, s]`` with ``s = min(spread, ratio, 1 - ratio)`` (so 0 and 1 stay exact and the
    batch mean is ``ratio`` up to rounding). One image: exactly ``ratio``.
    """
    regions = grid[0] * grid[1]
    s = min(spread, ratio, 1. - ratio)
    masks = torch.zeros(batch, regions, dtype=torch.bool)
    for i in range(batch):
        d = 0. if batch == 1 else s * (2. * i / (batch - 1) - 1.)
        k = int(round((ratio + d) * regions))
        masks[i, torch.randperm(regions, generator=generator)[:k]] = True
    return masks.reshape(batch, *grid)


def gate_macs_per_region(msvit: MSViT) -> int:
    """MACs of the gate MLP on one coarse region (its linear layers)."""
    return sum(m.in_features * m.out_features for m in msvit.tokenizer.gate.modules()
               if isinstance(m, nn.Linear))


def vit_macs(vit: nn.Module, hw: Tuple[int, int]) -> int:
    """Analytic MACs of a ViT/16 on one [H, W] image (all ceil(H/16) x ceil(W/16) tokens)."""
    h, w = grid_size(hw, vit.patch_size)
    return _encoder_macs(vit, h * w)


def msvit_macs(msvit: MSViT, tokens: int, regions: int) -> int:
    """Analytic MACs of one MSViT image: ``tokens`` tokens (no cls) embedded and run, and the
    gate on all ``regions`` coarse regions (it runs on every region, coarse or not)."""
    return _encoder_macs(msvit, tokens) + regions * gate_macs_per_region(msvit)


def _encoder_macs(model: nn.Module, tokens: int) -> int:
    """Patch embedding of ``tokens`` tokens and the layers on them (+ cls)."""
    proj = model.patch_embed.projection
    c = proj.out_channels
    embed = c * proj.in_channels * proj.kernel_size[0] * proj.kernel_size[1]
    mlp_ratio = model.layers[0].ffn.layers[0][0].out_features / c
    n = tokens + int(model.with_cls_token)
    layers = len(model.layers) * (n * (4 * c * c + 2 * mlp_ratio * c * c) + 2 * n * n * c)
    return int(layers) + tokens * embed


def train_step(forward: Callable[[], Sequence], params: Sequence[nn.Parameter],
               loss: Optional[Callable[[Sequence], Tensor]] = None) -> None:
    """One forward + backward; gradients of ``params`` reset first.

    ``loss`` maps the outputs to a scalar; default: the mean square of every output.
    """
    for p in params:
        p.grad = None
    outs = forward()
    (loss(outs) if loss is not None else sum(o.square().mean() for o in outs)).backward()
