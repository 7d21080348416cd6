"""Gate losses: shape the distribution of the per-region probabilities of staying coarse.

Each takes a :class:`~msvit_mm.models.losses.base.GateLossInput`, reads its ``gate_probs``
[B, Hc, Wc] in (0, 1) (``sigmoid(gate logit)``, with gradient) and returns a scalar already
multiplied by ``loss_weight``. With ``gather=True`` (default) the
gate outputs of all ranks are gathered first, so the empirical CDF and the rate are over the
global batch (:class:`~msvit_mm.models.losses.base.BaseGateLoss`).
The math lives in ``msvit_mm.ops.batch_shaping``; docs/design.md ("Gate losses") has the
formulas.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from msvit_mm.ops.batch_shaping import (beta_cdf, beta_params, ecdf_loss, logit,
                                        relaxed_bernoulli_cdf)
from msvit_mm.ops.checks import (check_non_negative, check_open_unit, check_pdf_clip,
                                 check_positive)

from .base import BaseGateLoss, GateLossInput


@MODELS.register_module()
class BatchShapingLoss(BaseGateLoss):
    """BaS: at each gate position, the batch of probabilities is matched to one Beta prior.

    ``L = mean_k sum_i (e_i - F*(x_(i)^k))^2 / B``, sorted over the (global) batch at each
    position k; F* the Beta(alpha, beta) CDF with the clipped-density gradient.

    Give either ``alpha`` and ``beta``, or ``target_coarse_ratio`` (and ``concentration``):
    then ``alpha = t * c``, ``beta = (1 - t) * c``, so the prior's mean is the target. Default:
    t = 0.5, c = 1, i.e. Beta(0.5, 0.5), U-shaped (near-binary decisions) like BaS's own
    Beta(0.6, 0.4), which also has ``alpha + beta = 1``. The mean probability follows the
    target; the fraction of hard decisions (threshold 1/2) follows ``P(X > 1/2)`` of the prior
    instead (0.22 for Beta(0.25, 0.75)); gBaS parameterizes that fraction directly.

    Args:
        alpha, beta: Beta shape parameters (both or neither).
        target_coarse_ratio: prior mean, in (0, 1); default 0.5 when alpha/beta are not given.
        concentration: ``alpha + beta`` when the mean is given; < 2 is U-shaped.
        pdf_clip: (min, max) clip of the prior density in the backward.
        loss_weight: multiplies the loss.
        gather: match the ECDF over the batch gathered from all ranks.
        loss_name: key in the losses dict; must start with ``loss`` (mmseg sums those).
    """

    def __init__(self, alpha: Optional[float] = None, beta: Optional[float] = None,
                 target_coarse_ratio: Optional[float] = None, concentration: float = 1.0,
                 pdf_clip: Tuple[float, float] = (1e-3, 100.0), loss_weight: float = 1.0,
                 gather: bool = True, loss_name: str = 'loss_gate_bas') -> None:
        super().__init__(loss_weight, loss_name, gather)
        if (alpha is None) != (beta is None):
            raise ValueError(f'give both alpha and beta or neither, got alpha={alpha!r}, '
                             f'beta={beta!r}')
        if alpha is not None and target_coarse_ratio is not None:
            raise ValueError('give either alpha/beta or target_coarse_ratio, got alpha='
                             f'{alpha!r}, beta={beta!r}, target_coarse_ratio='
                             f'{target_coarse_ratio!r}')
        if alpha is None:
            t = 0.5 if target_coarse_ratio is None else target_coarse_ratio
            alpha, beta = beta_params(check_open_unit('target_coarse_ratio', t), concentration)
        self.alpha, self.beta = check_positive('alpha', alpha), check_positive('beta', beta)
        self.pdf_clip = check_pdf_clip(pdf_clip)

    def forward(self, inputs: GateLossInput) -> Tensor:
        """[B, Hc, Wc] probabilities of staying coarse -> scalar loss (times loss_weight)."""
        x = self.probs(inputs)
        loss = ecdf_loss(x, lambda s: beta_cdf(s, self.alpha, self.beta, self.pdf_clip), dim=0)
        return self.loss_weight * loss.mean()


@MODELS.register_module()
class GeneralizedBatchShapingLoss(BaseGateLoss):
    """gBaS (MSViT): a learned relaxed-Bernoulli prior per position, a Beta hyperprior on means.

    Position k has the prior RB(mu_k, tau_k), ``mu_k = sigmoid(mu_logit[k])`` (the probability
    that a sample exceeds 1/2, i.e. the position's expected hard coarse ratio) and
    ``tau_k = sigmoid(tau_logit[k])`` in (0, 1) (1 with mu = 0.5 is uniform, smaller is more
    peaked at 0 and 1). Both are parameters of shape ``grid_size``, trained with the model
    (they always get a gradient, so DDP never sees them unused). The loss is

        L_prior = mean_k sum_i (e_i - F_RB(x_(i)^k; mu_k, tau_k))^2 / B   (over the batch)
        L_hyper = sum_j (e_j - F_Beta(mu_(j)))^2 / K                     (over the K means)
        L       = loss_weight * (L_prior + L_hyper + tau_l1_weight * mean_k tau_k)

    with the hyperprior Beta(t * c, (1 - t) * c), t = ``target_coarse_ratio``,
    c = ``hyper_concentration``. Defaults follow Qualcomm's public gBaS example (hyperprior
    Beta(3, 7), i.e. c = 10; temperature sigmoid-parameterized, initialized to 0.5; L1 weight
    0.1 on it); the means start at the target. The gate grid of the input must be
    ``grid_size`` (one learned prior per region): another grid (another crop size) is an
    error naming both, never a silent resize of the learned maps.

    Args:
        target_coarse_ratio: mean of the hyperprior, in (0, 1).
        grid_size: (Hc, Wc) of the parameter maps = the gate grid of the training crop,
            ceil(crop / coarse_patch_size), e.g. 512 / 32 = 16 for a 512 crop.
        hyper_concentration: ``a + b`` of the hyperprior; larger keeps the mu_k closer to t.
        tau_l1_weight: weight of the L1 penalty on the temperatures (>= 0).
        init_tau: initial temperature, in (0, 1).
        rb_eps: clip of x in the relaxed-Bernoulli CDF.
        pdf_clip: (min, max) clip of the hyperprior density in the backward.
        loss_weight: multiplies the total.
        gather: match the ECDF over the batch gathered from all ranks.
        loss_name: key in the losses dict; must start with ``loss``.
    """

    def __init__(self, target_coarse_ratio: float = 0.5, grid_size: Sequence[int] = (16, 16),
                 hyper_concentration: float = 10.0, tau_l1_weight: float = 0.1,
                 init_tau: float = 0.5, rb_eps: float = 1e-3,
                 pdf_clip: Tuple[float, float] = (1e-3, 100.0), loss_weight: float = 1.0,
                 gather: bool = True, loss_name: str = 'loss_gate_gbas') -> None:
        super().__init__(loss_weight, loss_name, gather)
        check_open_unit('target_coarse_ratio', target_coarse_ratio)
        check_positive('hyper_concentration', hyper_concentration)
        check_open_unit('init_tau', init_tau)
        if not (len(grid_size) == 2 and all(isinstance(g, int) and g > 0 for g in grid_size)):
            raise ValueError(f'grid_size must be two positive ints (Hc, Wc), got {grid_size!r}')
        if not 0.0 < rb_eps < 0.5:
            raise ValueError(f'rb_eps must be in (0, 0.5), got {rb_eps!r}')
        self.target_coarse_ratio = float(target_coarse_ratio)
        self.hyper_alpha, self.hyper_beta = beta_params(target_coarse_ratio, hyper_concentration)
        self.tau_l1_weight = check_non_negative('tau_l1_weight', tau_l1_weight)
        self.rb_eps = float(rb_eps)
        self.pdf_clip = check_pdf_clip(pdf_clip)
        grid = tuple(grid_size)
        self.mu_logit = nn.Parameter(logit(torch.full(grid, float(target_coarse_ratio))))
        self.tau_logit = nn.Parameter(logit(torch.full(grid, float(init_tau))))

    def forward(self, inputs: GateLossInput) -> Tensor:
        """[B, Hc, Wc] probabilities of staying coarse -> scalar loss (times loss_weight)."""
        return self.loss_weight * sum(self.loss_terms(inputs).values())

    def loss_terms(self, inputs: GateLossInput) -> Dict[str, Tensor]:
        """The unweighted terms ``prior``, ``hyper``, ``tau_l1`` (scalars), for logging."""
        x = self.probs(inputs)
        mu_logit, tau_logit = self._param_maps(x.shape[1:], x.dtype)
        mu, tau = torch.sigmoid(mu_logit), torch.sigmoid(tau_logit)  # [Hc, Wc]
        prior = ecdf_loss(x, lambda s: relaxed_bernoulli_cdf(s, mu, tau, self.rb_eps), dim=0)
        mus = torch.sigmoid(self.mu_logit.to(x.dtype)).flatten()  # [K]
        hyper = ecdf_loss(mus, lambda s: beta_cdf(s, self.hyper_alpha, self.hyper_beta,
                                                  self.pdf_clip), dim=0)
        tau_l1 = self.tau_l1_weight * torch.sigmoid(self.tau_logit.to(x.dtype)).mean()
        return {'prior': prior.mean(), 'hyper': hyper, 'tau_l1': tau_l1}

    @property
    def mu(self) -> Tensor:
        """Learned prior means, [*grid_size], detached."""
        return torch.sigmoid(self.mu_logit.detach())

    @property
    def tau(self) -> Tensor:
        """Learned prior temperatures, [*grid_size], detached."""
        return torch.sigmoid(self.tau_logit.detach())

    def _param_maps(self, grid: Tuple[int, int], dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
        """Parameter logits, [Hc, Wc] each; ``grid`` (the input's) must be ``grid_size``."""
        if tuple(grid) != tuple(self.mu_logit.shape):
            raise ValueError(
                f'{type(self).__name__} has grid_size={tuple(self.mu_logit.shape)} (one learned '
                f'prior per gate region) but the gate gives {tuple(grid)} regions; set '
                f'grid_size={tuple(grid)} in the gate loss config (the training crop divided '
                'by coarse_patch_size, rounded up)')
        return self.mu_logit.to(dtype), self.tau_logit.to(dtype)


@MODELS.register_module()
class TargetRateLoss(BaseGateLoss):
    """L0-style rate loss: ``(mean coarse probability over the (global) batch - target)^2``.

    Only the overall rate is constrained (no shaping of the distribution); the squared form
    (``norm='l2'``, default) is smooth and vanishes at the target, ``norm='l1'`` takes the
    absolute difference (constant pull, as an L0 budget penalty).

    Args:
        target_coarse_ratio: target mean probability of staying coarse, in (0, 1).
        norm: ``'l2'`` (squared) or ``'l1'`` (absolute).
        loss_weight: multiplies the loss.
        gather: average over the batch gathered from all ranks.
        loss_name: key in the losses dict; must start with ``loss``.
    """

    def __init__(self, target_coarse_ratio: float = 0.5, norm: str = 'l2',
                 loss_weight: float = 1.0, gather: bool = True,
                 loss_name: str = 'loss_gate_rate') -> None:
        super().__init__(loss_weight, loss_name, gather)
        if norm not in ('l1', 'l2'):
            raise ValueError(f"norm must be 'l1' or 'l2', got {norm!r}")
        self.target_coarse_ratio = check_open_unit('target_coarse_ratio', target_coarse_ratio)
        self.norm = norm

    def forward(self, inputs: GateLossInput) -> Tensor:
        """[B, Hc, Wc] probabilities of staying coarse -> scalar loss (times loss_weight)."""
        diff = self.probs(inputs).mean() - self.target_coarse_ratio
        return self.loss_weight * (diff.abs() if self.norm == 'l1' else diff ** 2)
