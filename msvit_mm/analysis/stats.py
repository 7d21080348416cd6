"""Rank statistics of the gate analysis.

:func:`spearman` is Spearman's rank correlation as ``scipy.stats.spearmanr`` computes it:
tied values share the mean of their ranks, and the result is undefined (NaN) when either
side is constant or has fewer than two values. Label uniformity ties a lot (every
one-class region is exactly 1.0), so ranks broken by position would invent an order.
"""
import math
from typing import Union

import numpy as np
import torch
from scipy.stats import rankdata

__all__ = ['spearman', 'format_corr']

ArrayLike = Union[torch.Tensor, np.ndarray, list, tuple]


def _flat(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64).ravel()


def spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Tie-averaged Spearman rank correlation of two equally long vectors.

    Args:
        a, b: any shape, flattened; ``a.numel() == b.numel()``.

    Returns:
        a float in [-1, 1]; NaN when fewer than two values, either side constant, or a
        value is NaN (no rank is defined for it).
    """
    x, y = _flat(a), _flat(b)
    if x.size != y.size:
        raise ValueError(f'spearman: the two sides have {x.size} and {y.size} values')
    if x.size < 2 or np.isnan(x).any() or np.isnan(y).any():
        return float('nan')
    rx, ry = rankdata(x), rankdata(y)  # 'average': tied values share their mean rank
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float((rx * rx).sum()) * float((ry * ry).sum()))
    if den == 0.0:  # a constant side: every rank is tied
        return float('nan')
    return float(np.clip((rx * ry).sum() / den, -1.0, 1.0))


def format_corr(value: float, spec: str = '+.2f') -> str:
    """A correlation for a table: ``format(value, spec)``, or ``n/a`` when undefined."""
    return 'n/a' if value is None or math.isnan(value) else format(value, spec)
