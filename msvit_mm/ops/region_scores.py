"""Per-region scores and decisions: pixel statistics, label uniformity, top-k, calibration.

A *score* map is [B, Hc, Wc], one value per coarse region, higher = a better candidate for
one coarse token. A *decision* map is [B, Hc, Wc] bool, True = coarse. Pure tensor
functions, no mmseg import.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .patchify import grid_size, region_pixels


def _regions(x: Tensor, size: int) -> Tensor:
    """[B, C, H, W] (sides multiples of ``size``) -> [B, Hc, Wc, C, size * size]."""
    b, c, h, w = x.shape
    if h % size or w % size:
        raise ValueError(f'image sides {h}x{w} are not multiples of the region size {size}')
    cells = region_pixels(x, size)  # B, Hc*Wc, C*size*size (channel-major per region)
    return cells.reshape(b, h // size, w // size, c, size * size)


def region_std(x: Tensor, size: int) -> Tensor:
    """Pixel standard deviation per region, averaged over channels: [B, C, H, W] -> [B, Hc, Wc]."""
    return _regions(x, size).std(dim=-1, unbiased=False).mean(dim=-1)


def region_entropy(x: Tensor, size: int, bins: int = 32,
                   value_range: Tuple[float, float] = (-2.2, 2.7)) -> Tensor:
    """Entropy (nats) of the grey-level histogram of each region: [B, C, H, W] -> [B, Hc, Wc].

    The grey level is the channel mean, cut into ``bins`` equal bins over ``value_range``
    (values outside go to the end bins); the default range covers ImageNet-normalized
    pixels (mean/std of mmseg's data preprocessor). Not differentiable (a count).
    """
    if bins < 2:
        raise ValueError(f'bins must be >= 2, got {bins}')
    lo, hi = value_range
    if not hi > lo:
        raise ValueError(f'value_range must be (low, high) with high > low, got {value_range}')
    grey = _regions(x.detach(), size).mean(dim=-2)  # B, Hc, Wc, size*size
    index = ((grey - lo) / (hi - lo) * bins).long().clamp_(0, bins - 1)
    counts = torch.zeros(grey.shape[:-1] + (bins,), dtype=grey.dtype, device=grey.device)
    counts.scatter_add_(-1, index, torch.ones_like(grey))
    p = counts / grey.shape[-1]
    return -(torch.xlogy(p, p)).sum(dim=-1)


def label_uniformity(labels: Tensor, size: int, num_classes: int,
                     ignore_index: int = 255) -> Tensor:
    """Share of each region's labelled pixels that carry its most frequent class.

    1.0 = the region is one class (CTS's criterion for sharing a token). Regions with no
    labelled pixel score 1.0 (nothing to lose). Sides that are not multiples of ``size``
    are padded with ``ignore_index``.

    Args:
        labels: [B, H, W] integer class map (``ignore_index`` = unlabelled).
        size: region side in pixels.
        num_classes: number of classes (labels >= num_classes other than ``ignore_index``
            are an error).

    Returns:
        [B, Hc, Wc] float in [0, 1].
    """
    b, h, w = labels.shape
    hc, wc = grid_size((h, w), size)
    lab = F.pad(labels.long(), (0, wc * size - w, 0, hc * size - h), value=ignore_index)
    valid = lab != ignore_index
    if bool((lab[valid] >= num_classes).any()) or bool((lab[valid] < 0).any()):
        raise ValueError(f'labels outside [0, {num_classes}) other than ignore_index '
                         f'{ignore_index}')
    cells = _regions(lab[:, None].float(), size)[..., 0, :].long()  # B, Hc, Wc, size*size
    keep = (cells != ignore_index)
    hist = torch.zeros((b, hc, wc, num_classes + 1), device=labels.device)
    hist.scatter_add_(-1, torch.where(keep, cells, num_classes), keep.float())
    counts = hist[..., :num_classes]
    total = counts.sum(-1)
    return torch.where(total > 0, counts.amax(-1) / total.clamp(min=1), torch.ones_like(total))


def topk_regions(scores: Tensor, counts: Tensor) -> Tensor:
    """Per image, the ``counts[b]`` regions with the highest scores become coarse.

    Ties are broken by raster order (the earlier region first), so the result is
    deterministic.

    Args:
        scores: [B, Hc, Wc] float.
        counts: [B] integer in [0, Hc * Wc].

    Returns:
        [B, Hc, Wc] bool with exactly ``counts[b]`` True in image b.
    """
    b = scores.shape[0]
    flat = scores.reshape(b, -1)
    counts = counts.to(device=scores.device, dtype=torch.long).reshape(b, 1)
    if bool((counts < 0).any()) or bool((counts > flat.shape[1]).any()):
        raise ValueError(f'counts must lie in [0, {flat.shape[1]}], got {counts.flatten().tolist()}')
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(flat.shape[1], device=flat.device).expand_as(order))
    return (rank < counts).reshape(scores.shape)


def rate_counts(num_images: int, num_regions: int, coarse_ratio: float,
                device=None) -> Tensor:
    """[num_images] long: ``round(coarse_ratio * num_regions)`` coarse regions per image."""
    if not 0.0 <= coarse_ratio <= 1.0:
        raise ValueError(f'coarse_ratio must lie in [0, 1], got {coarse_ratio}')
    return torch.full((num_images,), int(round(coarse_ratio * num_regions)), dtype=torch.long,
                      device=device)


def calibrate_threshold(probs: Tensor, target: float) -> float:
    """The threshold t for which a share ``target`` of ``probs`` (any shape) exceeds t.

    Decisions are ``probs > t``; ``t`` is the midpoint between the two order statistics the
    target falls between, so the share is exact up to ties and rounding to whole regions.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f'target must lie in (0, 1), got {target}')
    p = torch.sort(probs.detach().flatten().double()).values
    if p.numel() == 0:
        raise ValueError('calibrate_threshold got no probabilities')
    keep = int(round(target * p.numel()))  # values above the threshold
    below = p.numel() - keep
    lower = p[below - 1] if below > 0 else p[0] - 1e-6
    upper = p[below] if below < p.numel() else p[-1] + 1e-6
    return float((lower + upper) / 2)


def region_laplacian_energy(x: Tensor, size: int) -> Tensor:
    """Mean square of the grey image's discrete Laplacian per region: [B, C, H, W] -> [B, Hc, Wc].

    Grey = channel mean; the 5-point stencil ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]`` with the
    image's border replicated. Detached (a gate input, not a path for gradients).
    """
    grey = x.detach().mean(dim=1, keepdim=True)
    kernel = grey.new_tensor([[0., 1., 0.], [1., -4., 1.], [0., 1., 0.]]).view(1, 1, 3, 3)
    lap = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode='replicate'), kernel)
    return _regions(lap.square(), size).mean(dim=(-2, -1))


def group_region_cells(fine: Tensor, fine_hw: Tuple[int, int], scale: int) -> Tensor:
    """Fine tokens grouped by coarse region: [B, Hp * Wp, C] -> [B, Hc * Wc, scale^2, C].

    Regions in raster order; inside a region its ``scale x scale`` cells in raster order.
    """
    b, n, c = fine.shape
    hp, wp = fine_hw
    if n != hp * wp or hp % scale or wp % scale:
        raise ValueError(f'{n} fine tokens do not form a {hp}x{wp} grid of whole '
                         f'{scale}x{scale} regions')
    cells = fine.reshape(b, hp // scale, scale, wp // scale, scale, c).permute(0, 1, 3, 2, 4, 5)
    return cells.reshape(b, (hp // scale) * (wp // scale), scale * scale, c)


def subpatch_dissimilarity(fine: Tensor, fine_hw: Tuple[int, int], scale: int) -> Tensor:
    """One minus the mean pairwise cosine similarity of each region's ``scale^2`` fine tokens:
    [B, Hp * Wp, C] -> [B, Hc, Wc], in [0, 2] (0: the sub-patches embed alike). Detached."""
    cells = F.normalize(group_region_cells(fine.detach(), fine_hw, scale), dim=-1)
    k = cells.shape[2]
    gram = cells @ cells.transpose(-1, -2)  # B, n, k, k
    mean_cos = (gram.sum(dim=(-2, -1)) - gram.diagonal(dim1=-2, dim2=-1).sum(-1)) / (k * (k - 1))
    return (1 - mean_cos).reshape(fine.shape[0], fine_hw[0] // scale, fine_hw[1] // scale)
