"""Batch-shaping math: Beta CDF (values, clipped-density gradient), ECDF loss, RB CDF."""
import numpy as np
import pytest
import torch
from scipy import special, stats

from msvit_mm.ops.batch_shaping import (beta_cdf, beta_params, betainc, ecdf_loss,
                                        ecdf_targets, relaxed_bernoulli_cdf)
from tests.helpers import scaled_tol

PARAMS = [(0.25, 0.75), (0.5, 0.5), (0.6, 0.4), (1.0, 1.0), (2.0, 5.0), (5.0, 2.0),
          (2.5, 7.5), (50.0, 30.0), (0.01, 3.0), (400.0, 900.0)]


@pytest.mark.parametrize('a,b', PARAMS)
def test_betainc_matches_scipy(a, b):
    x = torch.cat([torch.tensor([0.0, 1e-12, 1e-4, 0.5, 1 - 1e-9, 1.0], dtype=torch.float64),
                   torch.linspace(0.001, 0.999, 97, dtype=torch.float64),
                   torch.linspace(0.28, 0.34, 13, dtype=torch.float64)])
    expected = special.betainc(a, b, x.numpy())
    # float64, values in [0, 1]: atol is already a fraction of the largest value
    np.testing.assert_allclose(betainc(x, a, b).numpy(), expected, rtol=1e-10, atol=1e-13)


def test_beta_cdf_keeps_shape_and_dtype():
    x = torch.rand(4, 3, 5)
    y = beta_cdf(x, 0.5, 0.5)
    assert y.shape == x.shape and y.dtype == torch.float32
    # float32 against float64, values in [0, 1]: 1e-6 of the largest is ~17 float32 ulps
    np.testing.assert_allclose(y.numpy(), stats.beta.cdf(x.numpy(), 0.5, 0.5), atol=1e-6)


@pytest.mark.parametrize('a,b', [(0.25, 0.75), (5.0, 2.0), (2.0, 3.0)])
def test_beta_cdf_gradient_is_clipped_pdf(a, b):
    # includes points where the density is above 100 (a < 1 near 0) and below 1e-3
    x = torch.tensor([1e-9, 1e-4, 0.01, 0.2, 0.5, 0.8, 0.999, 1 - 1e-9], dtype=torch.float64,
                     requires_grad=True)
    beta_cdf(x, a, b).sum().backward()
    expected = np.clip(stats.beta.pdf(x.detach().numpy(), a, b), 1e-3, 100.0)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-9)
    x.grad = None
    beta_cdf(x, a, b, pdf_clip=(0.5, 2.0)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.clip(expected, 0.5, 2.0), rtol=1e-9)


@pytest.mark.parametrize('a,b', [(0.5, 0.5), (2.0, 5.0), (1.5, 3.0)])
def test_beta_cdf_gradcheck_where_pdf_unclipped(a, b):
    x = torch.linspace(0.05, 0.9, 11, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: beta_cdf(t, a, b), (x,), eps=1e-6, atol=1e-7)


def _numpy_ecdf_loss(x: np.ndarray, cdf, axis: int = 0) -> np.ndarray:
    xs = np.sort(x, axis=axis)
    n = x.shape[axis]
    shape = [1] * x.ndim
    shape[axis] = n
    e = (np.arange(1, n + 1) / (n + 1)).reshape(shape)
    return ((e - cdf(xs)) ** 2).sum(axis=axis) / n


@pytest.mark.parametrize('dim', [0, 1, -1])
def test_ecdf_loss_matches_numpy(dim):
    x = torch.rand(7, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = ecdf_loss(x, lambda s: beta_cdf(s, 0.6, 1.4), dim=dim)
    ref = _numpy_ecdf_loss(x.numpy(), lambda s: stats.beta.cdf(s, 0.6, 1.4), axis=dim)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10)


def test_ecdf_targets():
    np.testing.assert_allclose(ecdf_targets(4, torch.float64, torch.device('cpu')).numpy(),
                               [0.2, 0.4, 0.6, 0.8])


def _bas_inputs(seed: int = 0):
    # well-separated values in [0.05, 0.95] so the density is unclipped and the sort is stable
    g = torch.Generator().manual_seed(seed)
    b, p = 9, 5
    x = torch.stack([0.05 + 0.9 * (torch.randperm(b, generator=g).double() + 0.5) / b
                     for _ in range(p)], dim=1)  # [B, P]
    return x.requires_grad_(), b, p


@pytest.mark.parametrize('a,b_', [(0.5, 0.5), (1.5, 3.0)])
def test_bas_gradient_is_design_formula_and_finite_differences(a, b_):
    x, b, p = _bas_inputs()
    ecdf_loss(x, lambda s: beta_cdf(s, a, b_), dim=0).mean().backward()

    xn = x.detach().numpy()
    perm = np.argsort(xn, axis=0)  # the fixed permutation
    e = np.arange(1, b + 1) / (b + 1)
    # docs/design.md (Gate losses): dL/dx_(i) = -(2/B) p*(x_(i)) (e_i - F*(x_(i))), then / P for the mean
    analytic = np.zeros_like(xn)
    for k in range(p):
        xs = xn[perm[:, k], k]
        g = -(2.0 / b) * stats.beta.pdf(xs, a, b_) * (e - stats.beta.cdf(xs, a, b_)) / p
        analytic[perm[:, k], k] = g
    np.testing.assert_allclose(x.grad.numpy(), analytic, **scaled_tol(analytic, 1e-9))

    def loss_fixed_sort(v: np.ndarray) -> float:
        xs = np.take_along_axis(v, perm, axis=0)
        return float((((e[:, None] - stats.beta.cdf(xs, a, b_)) ** 2).sum(0) / b).mean())

    h = 1e-6
    fd = np.zeros_like(xn)
    for idx in np.ndindex(*xn.shape):
        up, down = xn.copy(), xn.copy()
        up[idx] += h
        down[idx] -= h
        fd[idx] = (loss_fixed_sort(up) - loss_fixed_sort(down)) / (2 * h)
    # central differences, h = 1e-6: error ~1e-10 whatever the element's size
    np.testing.assert_allclose(x.grad.numpy(), fd, **scaled_tol(fd, 1e-5))


def _rb_cdf_numpy(x, mu, tau, eps=1e-3):
    x = np.clip(x, eps, 1 - eps)
    z = tau * np.log(x / (1 - x)) - np.log(mu / (1 - mu))
    return 1.0 / (1.0 + np.exp(-z))


def test_relaxed_bernoulli_cdf_matches_formula():
    g = torch.Generator().manual_seed(1)
    x = torch.cat([torch.tensor([0.0, 1e-5, 1.0]), torch.rand(29, generator=g)]).double()
    x = x[:, None, None].expand(32, 3, 4)
    mu = torch.rand(3, 4, generator=g).double() * 0.9 + 0.05
    tau = torch.rand(3, 4, generator=g).double() + 0.1
    out = relaxed_bernoulli_cdf(x, mu, tau)
    np.testing.assert_allclose(out.numpy(), _rb_cdf_numpy(x.numpy(), mu.numpy(), tau.numpy()),
                               rtol=1e-12)
    # P(X > 1/2) = mu
    np.testing.assert_allclose(relaxed_bernoulli_cdf(torch.full_like(mu, 0.5), mu, tau).numpy(),
                               1 - mu.numpy(), rtol=1e-12)


def test_relaxed_bernoulli_cdf_is_the_cdf_of_rb_samples():
    g = torch.Generator().manual_seed(2)
    mu, tau = torch.tensor(0.3, dtype=torch.float64), torch.tensor(0.7, dtype=torch.float64)
    u = torch.rand(200_000, generator=g, dtype=torch.float64)
    samples = torch.sigmoid((torch.logit(mu) + torch.log(u) - torch.log1p(-u)) / tau)
    grid = torch.linspace(0.01, 0.99, 50, dtype=torch.float64)
    empirical = torch.searchsorted(samples.sort().values, grid, right=True) / samples.numel()
    assert (empirical - relaxed_bernoulli_cdf(grid, mu, tau)).abs().max() < 5e-3


def test_relaxed_bernoulli_cdf_gradcheck_and_clip():
    x = torch.linspace(0.02, 0.98, 9, dtype=torch.float64, requires_grad=True)
    mu = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    tau = torch.tensor([0.6], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(relaxed_bernoulli_cdf, (x, mu, tau), eps=1e-6, atol=1e-7)
    x_out = torch.tensor([0.0, 1e-4, 1.0], dtype=torch.float64, requires_grad=True)
    relaxed_bernoulli_cdf(x_out, mu, tau).sum().backward()
    assert torch.equal(x_out.grad, torch.zeros(3, dtype=torch.float64))


def test_beta_params():
    assert beta_params(0.25, 4.0) == (1.0, 3.0)


@pytest.mark.parametrize('call,name', [
    (lambda: beta_cdf(torch.rand(3), 0.0, 1.0), 'alpha'),
    (lambda: beta_cdf(torch.rand(3), 1.0, -2.0), 'beta'),
    (lambda: beta_cdf(torch.rand(3), 1.0, 1.0, pdf_clip=(2.0, 1.0)), 'pdf_clip'),
    (lambda: beta_params(1.0, 1.0), 'mean'),
    (lambda: beta_params(0.5, 0.0), 'concentration'),
    (lambda: ecdf_loss(torch.rand(0, 3), lambda s: s), 'ecdf_loss'),
])
def test_bad_arguments_raise(call, name):
    with pytest.raises(ValueError, match=name):
        call()
