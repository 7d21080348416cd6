"""Gate losses: registry, values against NumPy/scipy, gradients, toy optimisation, arguments."""
import numpy as np
import pytest
import torch
from scipy import stats
from torch.func import functional_call

from msvit_mm.models.losses import (BatchShapingLoss, GeneralizedBatchShapingLoss,
                                    TargetRateLoss)
from tests.helpers import scaled_tol

from .helpers import gate_input


def _probs(shape=(6, 3, 4), seed=0, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=dtype) * 0.9 + 0.05).requires_grad_()


def _np_ecdf(x: np.ndarray, cdf) -> np.ndarray:
    """sum_i (e_i - F(x_(i)))^2 / n over axis 0."""
    xs = np.sort(x, axis=0)
    n = x.shape[0]
    e = (np.arange(1, n + 1) / (n + 1)).reshape((n,) + (1,) * (x.ndim - 1))
    return ((e - cdf(xs)) ** 2).sum(0) / n


def _np_rb_cdf(x, mu, tau, eps=1e-3):
    x = np.clip(x, eps, 1 - eps)
    return 1 / (1 + np.exp(-(tau * np.log(x / (1 - x)) - np.log(mu / (1 - mu)))))


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def test_registered_with_mmseg_names():
    from mmseg.registry import MODELS
    import msvit_mm  # noqa: F401  (registration)
    for name, loss_name in [('BatchShapingLoss', 'loss_gate_bas'),
                            ('GeneralizedBatchShapingLoss', 'loss_gate_gbas'),
                            ('TargetRateLoss', 'loss_gate_rate')]:
        loss = MODELS.build(dict(type=name, loss_weight=0.5))
        assert loss.loss_name == loss_name and loss.loss_weight == 0.5
    assert MODELS.build(dict(type='TargetRateLoss', loss_name='loss_x')).loss_name == 'loss_x'


@pytest.mark.parametrize('kwargs,a,b', [
    ({}, 0.5, 0.5),
    (dict(target_coarse_ratio=0.3, concentration=2.0), 0.6, 1.4),
    (dict(alpha=2.0, beta=5.0), 2.0, 5.0)])
def test_bas_value_matches_scipy(kwargs, a, b):
    x = _probs()
    loss = BatchShapingLoss(loss_weight=0.7, gather=False, **kwargs)
    assert (loss.alpha, loss.beta) == pytest.approx((a, b))
    ref = 0.7 * _np_ecdf(x.detach().numpy(), lambda s: stats.beta.cdf(s, a, b)).mean()
    np.testing.assert_allclose(loss(gate_input(x)).item(), ref, rtol=1e-10)


def test_bas_gradient_is_design_formula():
    x = _probs()
    b, p = x.shape[0], x[0].numel()
    BatchShapingLoss(alpha=0.6, beta=0.4, loss_weight=2.0, gather=False)(gate_input(x)).backward()
    xn = x.detach().numpy().reshape(b, p)
    perm = np.argsort(xn, axis=0)
    e = np.arange(1, b + 1) / (b + 1)
    expected = np.zeros_like(xn)
    for k in range(p):
        xs = xn[perm[:, k], k]
        pdf = np.clip(stats.beta.pdf(xs, 0.6, 0.4), 1e-3, 100)
        expected[perm[:, k], k] = 2.0 * -(2 / b) * pdf * (e - stats.beta.cdf(xs, 0.6, 0.4)) / p
    np.testing.assert_allclose(x.grad.numpy().reshape(b, p), expected,
                               **scaled_tol(expected, 1e-9))


def _randomized_gbas(**kwargs) -> GeneralizedBatchShapingLoss:
    loss = GeneralizedBatchShapingLoss(gather=False, **kwargs).double()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        loss.mu_logit.copy_(torch.randn(loss.mu_logit.shape, generator=g, dtype=torch.float64))
        loss.tau_logit.copy_(torch.randn(loss.tau_logit.shape, generator=g, dtype=torch.float64))
    return loss


def test_gbas_value_matches_numpy():
    x = _probs()
    loss = _randomized_gbas(target_coarse_ratio=0.3, grid_size=(3, 4), hyper_concentration=8.0,
                            tau_l1_weight=0.2, loss_weight=1.5)
    mu = _sigmoid(loss.mu_logit.detach().numpy())
    tau = _sigmoid(loss.tau_logit.detach().numpy())
    prior = _np_ecdf(x.detach().numpy(), lambda s: _np_rb_cdf(s, mu, tau)).mean()
    hyper = _np_ecdf(mu.reshape(-1), lambda s: stats.beta.cdf(s, 0.3 * 8.0, 0.7 * 8.0))
    terms = loss.loss_terms(gate_input(x))
    np.testing.assert_allclose(terms['prior'].item(), prior, rtol=1e-10)
    np.testing.assert_allclose(terms['hyper'].item(), hyper, rtol=1e-10)
    np.testing.assert_allclose(terms['tau_l1'].item(), 0.2 * tau.mean(), rtol=1e-12)
    np.testing.assert_allclose(loss(gate_input(x)).item(), 1.5 * (prior + hyper + 0.2 * tau.mean()),
                               rtol=1e-10)


def test_gbas_gradcheck_inputs_and_parameters():
    x = _probs(shape=(5, 2, 3), seed=4)
    loss = _randomized_gbas(grid_size=(2, 3))

    def f(x, mu_logit, tau_logit):
        return functional_call(loss, {'mu_logit': mu_logit, 'tau_logit': tau_logit},
                               (gate_input(x),))

    params = (loss.mu_logit.detach().clone().requires_grad_(),
              loss.tau_logit.detach().clone().requires_grad_())
    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize('grid_size', [(3, 5), (8, 8), (4, 4)])
def test_gbas_refuses_another_gate_grid(grid_size):
    """A learned prior per region: a (3, 5) prior on a 4 x 6 gate grid is an error, not a resize."""
    loss = _randomized_gbas(grid_size=grid_size)
    with pytest.raises(ValueError, match=r'grid_size=\(4, 6\)'):
        loss(gate_input(_probs(shape=(6, 4, 6))))


def test_gbas_has_no_state_between_calls():
    loss = _randomized_gbas(grid_size=(3, 4))
    fresh = _randomized_gbas(grid_size=(3, 4))
    loss(gate_input(_probs(shape=(9, 3, 4), seed=5)))
    x = _probs(seed=6)
    assert torch.equal(loss(gate_input(x)), fresh(gate_input(x)))
    assert set(loss.state_dict()) == {'mu_logit', 'tau_logit'}


@pytest.mark.parametrize('norm', ['l2', 'l1'])
def test_target_rate_value_and_gradcheck(norm):
    x = _probs()
    loss = TargetRateLoss(target_coarse_ratio=0.3, norm=norm, loss_weight=2.0, gather=False)
    diff = x.detach().numpy().mean() - 0.3
    ref = 2.0 * (diff ** 2 if norm == 'l2' else abs(diff))
    np.testing.assert_allclose(loss(gate_input(x)).item(), ref, rtol=1e-12)
    assert torch.autograd.gradcheck(lambda p: loss(gate_input(p)), (x,), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize('cls', [BatchShapingLoss, GeneralizedBatchShapingLoss, TargetRateLoss])
def test_half_input_computes_in_float32(cls):
    x = _probs(dtype=torch.float32).detach()
    kwargs = dict(grid_size=(3, 4)) if cls is GeneralizedBatchShapingLoss else {}
    loss = cls(gather=False, **kwargs)
    out = loss(gate_input(x.half()))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, loss(gate_input(x.half().float())))


def _toy(loss: torch.nn.Module, target: float, steps: int = 300) -> torch.Tensor:
    torch.manual_seed(0)
    logits = torch.randn(32, 8, 8, requires_grad=True)  # free gate logits [B, Hc, Wc]
    opt = torch.optim.Adam([logits, *loss.parameters()], lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        loss(gate_input(torch.sigmoid(logits))).backward()
        opt.step()
    return torch.sigmoid(logits).detach()


@pytest.mark.parametrize('target', [0.25, 0.75])
@pytest.mark.parametrize('cls', [BatchShapingLoss, GeneralizedBatchShapingLoss, TargetRateLoss])
def test_toy_reaches_target_coarse_ratio(cls, target):
    kwargs = dict(grid_size=(8, 8)) if cls is GeneralizedBatchShapingLoss else {}
    loss = cls(target_coarse_ratio=target, gather=False, **kwargs)
    probs = _toy(loss, target)
    assert abs(probs.mean().item() - target) < 0.02
    if cls is GeneralizedBatchShapingLoss:  # mu_k = P(x > 1/2): the hard ratio, too
        assert abs((probs > 0.5).float().mean().item() - target) < 0.02
        assert abs(loss.mu.mean().item() - target) < 0.02
    if cls is not TargetRateLoss:  # U-shaped priors: mostly near-binary (the rate loss: 0.53)
        assert ((probs - 0.5).abs() > 0.3).float().mean() > 0.65


@pytest.mark.parametrize('cls,kwargs,name', [
    (BatchShapingLoss, dict(target_coarse_ratio=0.0), 'target_coarse_ratio'),
    (BatchShapingLoss, dict(target_coarse_ratio=1.5), 'target_coarse_ratio'),
    (BatchShapingLoss, dict(concentration=0.0), 'concentration'),
    (BatchShapingLoss, dict(alpha=-1.0, beta=1.0), 'alpha'),
    (BatchShapingLoss, dict(alpha=1.0), 'beta'),
    (BatchShapingLoss, dict(alpha=1.0, beta=1.0, target_coarse_ratio=0.5), 'target_coarse_ratio'),
    (BatchShapingLoss, dict(pdf_clip=(1.0, 0.1)), 'pdf_clip'),
    (BatchShapingLoss, dict(loss_weight=-1.0), 'loss_weight'),
    (BatchShapingLoss, dict(loss_name='gate_bas'), 'loss_name'),
    (GeneralizedBatchShapingLoss, dict(target_coarse_ratio=1.0), 'target_coarse_ratio'),
    (GeneralizedBatchShapingLoss, dict(hyper_concentration=-2.0), 'hyper_concentration'),
    (GeneralizedBatchShapingLoss, dict(tau_l1_weight=-0.1), 'tau_l1_weight'),
    (GeneralizedBatchShapingLoss, dict(init_tau=1.0), 'init_tau'),
    (GeneralizedBatchShapingLoss, dict(grid_size=(0, 4)), 'grid_size'),
    (GeneralizedBatchShapingLoss, dict(grid_size=(16,)), 'grid_size'),
    (GeneralizedBatchShapingLoss, dict(rb_eps=0.7), 'rb_eps'),
    (TargetRateLoss, dict(target_coarse_ratio=-0.1), 'target_coarse_ratio'),
    (TargetRateLoss, dict(norm='l3'), 'norm'),
    (TargetRateLoss, dict(loss_weight=float('nan')), 'loss_weight'),
])
def test_bad_arguments_raise(cls, kwargs, name):
    with pytest.raises(ValueError, match=name):
        cls(**kwargs)


@pytest.mark.parametrize('cls', [BatchShapingLoss, GeneralizedBatchShapingLoss, TargetRateLoss])
@pytest.mark.parametrize('shape', [(4, 16), (2, 1, 16, 16), (0, 16, 16)])
def test_bad_input_raises(cls, shape):
    with pytest.raises(ValueError, match='gate_probs'):
        cls(gather=False)(gate_input(torch.rand(shape)))
