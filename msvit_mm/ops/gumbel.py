"""Gumbel-sigmoid (binary concrete) with straight-through hard decisions."""
from typing import Optional

import torch
from torch import Tensor


def logistic_noise(shape, device, dtype, generator: Optional[torch.Generator] = None) -> Tensor:
    """Samples of the standard logistic distribution (difference of two Gumbels)."""
    u = torch.rand(shape, device=device, dtype=dtype, generator=generator)
    u = u.clamp(torch.finfo(dtype).tiny, 1 - torch.finfo(dtype).eps)
    return torch.log(u) - torch.log1p(-u)


def gumbel_sigmoid(logits: Tensor, temperature: float) -> Tensor:
    """Relaxed Bernoulli sample ``sigmoid((logits + L) / temperature)``, L ~ Logistic(0, 1).

    Shape-preserving; differentiable in ``logits``.
    """
    noise = logistic_noise(logits.shape, logits.device, logits.dtype)
    return torch.sigmoid((logits + noise) / temperature)


def straight_through(soft: Tensor, hard: Tensor) -> Tensor:
    """Forward value ``hard``, gradient of ``soft`` (straight-through estimator)."""
    return hard.to(soft.dtype) + soft - soft.detach()
