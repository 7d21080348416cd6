"""Pixel-level helpers: padding to the coarse grid, pooling, region flattening.

Pure tensor functions (no mmseg import). Images are NCHW.
"""
from typing import Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor


def grid_size(hw: Tuple[int, int], patch_size: Union[int, Tuple[int, int]]) -> Tuple[int, int]:
    """Number of ``patch_size`` patches (an int, or (h, w)) covering ``hw``: the ceiling of
    each side's quotient, as mmseg's corner padding."""
    ph, pw = (patch_size, patch_size) if isinstance(patch_size, int) else patch_size
    return -(-int(hw[0]) // ph), -(-int(hw[1]) // pw)


def pad_to_multiple(x: Tensor, size: int) -> Tensor:
    """Zero-pad the bottom and right of ``x`` [B, C, H, W] so both sides are multiples of ``size``.

    Matches mmseg's ``AdaptivePadding(padding='corner')`` for ``size`` = the patch size.
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % size, (-w) % size
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h))
    return x


def region_pixels(x: Tensor, region: int) -> Tensor:
    """Flatten each ``region`` x ``region`` block: [B, C, H, W] -> [B, H/r * W/r, C * r * r].

    ``H`` and ``W`` must be multiples of ``region``. Regions are in raster order.
    """
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // region, region, w // region, region)
    x = x.permute(0, 2, 4, 1, 3, 5)  # B, Hc, Wc, C, r, r
    return x.reshape(b, (h // region) * (w // region), c * region * region)


def pad_replicate(x: Tensor, hw: Tuple[int, int]) -> Tensor:
    """Extend a map [..., h, w] to ``hw`` (>= (h, w)) by repeating its last row and column.

    Position embeddings of the fine cells that padding adds: a coarse region that straddles
    the border then averages the fine cells that exist.
    """
    ph, pw = hw[0] - x.shape[-2], hw[1] - x.shape[-1]
    return F.pad(x, (0, pw, 0, ph), mode='replicate') if ph or pw else x


def pool_cells(x: Tensor, scale: int) -> Tensor:
    """Mean of every ``scale`` x ``scale`` block: [..., H, W] -> [..., H / scale, W / scale].

    The values of ``F.avg_pool2d(x, scale)``, bit for bit on CPU (the same row-major sum,
    then the division), as sums of strided views: about twice as fast as ``avg_pool2d`` on
    NCHW images and position maps. ``scale`` must divide ``H`` and ``W``.
    """
    h, w = x.shape[-2:]
    if scale < 1 or h % scale or w % scale:
        raise ValueError(f'pool_cells: scale {scale} must divide the spatial size {(h, w)}')
    if scale == 1:
        return x
    offsets = [(i, j) for i in range(scale) for j in range(scale)]  # row-major, as avg_pool2d
    total = x[..., 0::scale, 0::scale] + x[..., 0::scale, 1::scale]
    for i, j in offsets[2:]:
        total.add_(x[..., i::scale, j::scale])
    return total / (scale * scale)


def seq_to_map(x: Tensor, hw: Tuple[int, int]) -> Tensor:
    """[B, H*W, C] (raster order) -> [B, C, H, W]."""
    b, _, c = x.shape
    return x.transpose(1, 2).reshape(b, c, hw[0], hw[1])


def map_to_seq(x: Tensor) -> Tensor:
    """[B, C, H, W] -> [B, H*W, C] (raster order)."""
    return x.flatten(2).transpose(1, 2)


def in_bounds_mask(padded_hw: Tuple[int, int], valid_hw: Tuple[int, int],
                   device: torch.device) -> Tensor:
    """[Hp * Wp] bool: True on fine cells inside the image's own fine grid ``valid_hw``."""
    rows = torch.arange(padded_hw[0], device=device) < valid_hw[0]
    cols = torch.arange(padded_hw[1], device=device) < valid_hw[1]
    return (rows[:, None] & cols[None, :]).flatten()


def gather_patches(x: Tensor, size: int, batch_index: Tensor, cell_index: Tensor) -> Tensor:
    """Pixels of chosen ``size`` x ``size`` patches: [B, C, H, W] -> [T, C, size, size].

    Args:
        x: images, ``H`` and ``W`` multiples of ``size``.
        batch_index, cell_index: [T] long, image and raster index (on the H/size x W/size
            grid) of each patch, e.g. ``active.nonzero(as_tuple=True)``.

    Only the chosen patches are copied.
    """
    b, c, h, w = x.shape
    patches = x.reshape(b, c, h // size, size, w // size, size).permute(0, 2, 4, 1, 3, 5)
    cols = w // size
    return patches[batch_index, cell_index // cols, cell_index % cols]
