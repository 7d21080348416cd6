"""A segmentor training step with a learning gate, stochastic depth on: in
``execution='packed_query'`` at share 1 the losses and every gradient (gate included) of
masked training with ``MLPGate(estimator='coarse_only')``; in ``execution='masked_query'``
those of masked training."""
import pytest
import torch
from mmseg.registry import MODELS

from ..helpers import assert_close_scaled
from .test_packed_training_step import _mixed_batch
from .test_segmentor import BACKBONE, PREPROCESSOR, UPERNET


def _step(execution: str, estimator: str, state=None):
    gate = dict(type='MLPGate', hidden_dims=(8,), estimator=estimator)
    backbone = dict(BACKBONE, gate=gate, execution=execution, query_share=1.,
                    drop_path_rate=0.1)
    torch.manual_seed(1)
    model = MODELS.build(dict(type='MSViTEncoderDecoder', backbone=backbone,
                              data_preprocessor=PREPROCESSOR, **UPERNET))
    if state is not None:
        model.load_state_dict(state)
    model.train()
    inputs, samples = _mixed_batch()
    torch.manual_seed(5)  # the same Gumbel noise and stochastic depth draws in both forms
    losses = model.loss(inputs, samples)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    return model, losses, {n: p.grad.clone() for n, p in model.named_parameters()
                           if p.grad is not None}


@pytest.mark.parametrize('execution,estimator', [('packed_query', 'coarse_only'),
                                                 ('masked_query', 'straight_through')])
def test_query_step_equals_masked_step(execution, estimator):
    model, masked_losses, masked_grads = _step('masked', estimator)
    _, query_losses, query_grads = _step(execution, 'straight_through', model.state_dict())
    assert 0 < masked_losses['coarse_ratio'] < 1  # coarse and fine regions in the batch
    for key, value in masked_losses.items():
        assert_close_scaled(query_losses[key], value, rel=1e-5, msg=key)
    assert set(masked_grads) == set(query_grads)
    gate = [n for n in masked_grads if '.gate.' in n]
    assert gate and all(masked_grads[n].abs().max() > 0 for n in gate)
    for name, grad in masked_grads.items():
        # rel=1e-3: the PSP branch's near-cancelling gradient (test_packed_training_step)
        assert_close_scaled(query_grads[name], grad, rel=1e-3, msg=name)
