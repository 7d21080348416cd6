"""The math of the batch-shaping losses (BaS, gBaS): prior CDFs and the ECDF matching loss.

BaS (Ehteshami Bejnordi et al., ICLR 2020) sorts the B values of one gate over the batch,
``x_(1) <= ... <= x_(B)``, and matches their empirical CDF ``e_i = i / (B + 1)`` to a prior
CDF F*:

    L = sum_i (e_i - F*(x_(i)))^2 / B

The sort is a fixed permutation and ``e_i`` a constant, so only F* needs a gradient. The Beta
CDF (regularized incomplete beta) is computed here in pure torch (a Lentz continued fraction
in float64, on the input's device, no scipy, no host sync beyond a convergence check every
few iterations); its backward is the Beta density clipped to ``pdf_clip`` (default
[1e-3, 100]) so that the U-shaped priors (a, b < 1) give finite gradients at 0 and 1.

The relaxed-Bernoulli (binary concrete) CDF used by gBaS is plain differentiable torch.
Pure tensor functions, no mmseg import.
"""
from typing import Callable, Tuple

import torch
from torch import Tensor

from .checks import check_open_unit, check_pdf_clip, check_positive

_CF_MAX_ITER = 1000  # enough for a, b up to ~1e5 (the fraction needs O(sqrt(max(a, b))) terms)
_CF_CHECK_EVERY = 8  # convergence is checked (one host sync) every this many terms
_CF_TINY = 1e-300


def beta_params(mean: float, concentration: float) -> Tuple[float, float]:
    """Beta(a, b) with the given mean ``a / (a + b)`` and concentration ``a + b``."""
    check_open_unit('mean', mean)
    check_positive('concentration', concentration)
    return mean * concentration, (1.0 - mean) * concentration


def betainc(x: Tensor, a: float, b: float) -> Tensor:
    """Regularized incomplete beta ``I_x(a, b)`` (the Beta(a, b) CDF), no gradient.

    Args:
        x: any shape, values in [0, 1] (clamped); computed in float64.
        a, b: positive shape parameters.

    Returns:
        float64 tensor, the shape of ``x``.
    """
    x = x.detach().to(torch.float64).clamp(0.0, 1.0)
    # I_x(a, b) = 1 - I_{1-x}(b, a); the continued fraction converges fast for
    # x < (a + 1) / (a + b + 2), so use the side of the symmetry where that holds.
    swap = x > (a + 1.0) / (a + b + 2.0)
    xs = torch.where(swap, 1.0 - x, x)
    as_ = torch.where(swap, torch.full_like(x, b), torch.full_like(x, a))
    bs = torch.where(swap, torch.full_like(x, a), torch.full_like(x, b))
    log_front = (torch.xlogy(as_, xs) + torch.xlogy(bs, 1.0 - xs)
                 - _log_beta_fn(as_, bs) - torch.log(as_))
    value = torch.exp(log_front) * _beta_continued_fraction(xs, as_, bs)
    return torch.where(swap, 1.0 - value, value).clamp(0.0, 1.0)


def beta_pdf(x: Tensor, a: float, b: float) -> Tensor:
    """Beta(a, b) density, float64, the shape of ``x``; ``inf`` at 0 (1) where a < 1 (b < 1)."""
    x = x.detach().to(torch.float64).clamp(0.0, 1.0)
    a_t = torch.tensor(a, dtype=torch.float64, device=x.device)
    b_t = torch.tensor(b, dtype=torch.float64, device=x.device)
    log_pdf = torch.xlogy(a_t - 1.0, x) + torch.xlogy(b_t - 1.0, 1.0 - x) - _log_beta_fn(a_t, b_t)
    return torch.exp(log_pdf)


class _BetaCDF(torch.autograd.Function):
    """Forward ``I_x(a, b)``; backward ``grad * clip(pdf(x), lo, hi)`` (gradient in x only)."""

    @staticmethod
    def forward(ctx, x: Tensor, a: float, b: float, lo: float, hi: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.params = (a, b, lo, hi)
        return betainc(x, a, b).to(x.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        (x,) = ctx.saved_tensors
        a, b, lo, hi = ctx.params
        pdf = beta_pdf(x, a, b).clamp(lo, hi).to(grad.dtype)
        return grad * pdf, None, None, None, None


def beta_cdf(x: Tensor, alpha: float, beta: float,
             pdf_clip: Tuple[float, float] = (1e-3, 100.0)) -> Tensor:
    """Beta(alpha, beta) CDF with the clipped-density gradient of BaS.

    Args:
        x: any shape, values in [0, 1]; the output has its shape and dtype.
        alpha, beta: positive shape parameters (constants, no gradient).
        pdf_clip: (min, max) the backward clips the density to.

    Returns:
        ``F(x)``, differentiable in ``x`` with ``dF/dx = clip(pdf(x), *pdf_clip)``.
    """
    check_positive('alpha', alpha)
    check_positive('beta', beta)
    lo, hi = check_pdf_clip(pdf_clip)
    return _BetaCDF.apply(x, float(alpha), float(beta), lo, hi)


def relaxed_bernoulli_cdf(x: Tensor, mu: Tensor, tau: Tensor, eps: float = 1e-3) -> Tensor:
    """CDF of the relaxed Bernoulli (binary concrete) RB(mu, tau).

    ``F(x) = sigmoid(tau * logit(x) - logit(mu))`` with ``x`` clipped to ``[eps, 1 - eps]``
    (no gradient to ``x`` outside). RB(mu, tau) is ``sigmoid((logit(mu) + L) / tau)``,
    L ~ Logistic(0, 1): ``P(X > 1/2) = mu``, and small ``tau`` puts the mass near 0 and 1.

    Args:
        x: [*], values in [0, 1].
        mu: broadcastable to ``x``, in (0, 1).
        tau: broadcastable to ``x``, positive.

    Returns:
        [*] broadcast shape, differentiable in ``x``, ``mu`` and ``tau``.
    """
    x = x.clamp(eps, 1.0 - eps)
    return torch.sigmoid(tau * logit(x) - logit(mu))


def ecdf_targets(n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Empirical CDF of n sorted samples, ``e_i = i / (n + 1)``, i = 1..n: [n]."""
    return torch.arange(1, n + 1, dtype=dtype, device=device) / (n + 1)


def ecdf_loss(x: Tensor, cdf: Callable[[Tensor], Tensor], dim: int = 0) -> Tensor:
    """ECDF matching loss ``sum_i (e_i - F(x_(i)))^2 / n`` over the sorted values along ``dim``.

    Args:
        x: [..., n, ...], n values along ``dim`` (e.g. [B, Hc, Wc] with dim=0).
        cdf: the prior's CDF, applied to the sorted ``x`` (same shape); it may broadcast
            per-position parameters over the other dims (e.g. ``mu`` [Hc, Wc]).
        dim: the dimension the empirical CDF is taken over.

    Returns:
        ``x``'s shape without ``dim`` (e.g. [Hc, Wc]); reduce it as you like.
    """
    n = x.shape[dim]
    if n < 1:
        raise ValueError(f'ecdf_loss needs at least one value along dim {dim}, got shape '
                         f'{tuple(x.shape)}')
    x_sorted = torch.sort(x, dim=dim).values
    e = ecdf_targets(n, x.dtype, x.device)
    e = e.reshape([n if d == dim % x.dim() else 1 for d in range(x.dim())])
    return ((e - cdf(x_sorted)) ** 2).sum(dim=dim) / n


def _beta_continued_fraction(x: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Continued fraction of I_x(a, b) (modified Lentz), float64, elementwise."""
    def nonzero(t: Tensor) -> Tensor:
        return torch.where(t.abs() < _CF_TINY, torch.full_like(t, _CF_TINY), t)

    c = torch.ones_like(x)
    d = 1.0 / nonzero(1.0 - (a + b) * x / (a + 1.0))
    h = d
    for m in range(1, _CF_MAX_ITER + 1):
        m2 = 2.0 * m
        even = m * (b - m) * x / ((a - 1.0 + m2) * (a + m2))
        d = 1.0 / nonzero(1.0 + even * d)
        c = nonzero(1.0 + even / c)
        h = h * d * c
        odd = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1.0 + m2))
        d = 1.0 / nonzero(1.0 + odd * d)
        c = nonzero(1.0 + odd / c)
        delta = d * c
        h = h * delta
        if m % _CF_CHECK_EVERY == 0 and bool(((delta - 1.0).abs() < 1e-15).all()):
            break
    return h


def logit(p: Tensor) -> Tensor:
    """``log(p / (1 - p))``, the values of ``torch.logit(p)``."""
    # on a busy 2-core CPU torch.logit of 2k values took 5 ms (it goes multi-threaded on
    # small inputs), log/log1p 0.01 ms.
    return torch.log(p) - torch.log1p(-p)


def _log_beta_fn(a: Tensor, b: Tensor) -> Tensor:
    return torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
