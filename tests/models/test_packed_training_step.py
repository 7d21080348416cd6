"""A training step with a gate that does not learn: packed (auto) equals masked, to the bit
of every loss and within rounding of every gradient, decode and auxiliary heads included."""
import pytest
import torch
from mmseg.registry import MODELS

from ..helpers import assert_close_scaled
from .test_segmentor import BACKBONE, PREPROCESSOR, UPERNET, _batch


def _mixed_batch():
    """Image 0 is noise (every region detailed), image 1 flat (every region smooth)."""
    torch.manual_seed(0)
    inputs, samples = _batch(2)
    inputs[1] = 0.5
    return inputs, samples


def _step(gate: dict, execution: str, state=None, seed: int = 0):
    backbone = dict(BACKBONE, gate=gate, execution=execution)
    torch.manual_seed(1)
    model = MODELS.build(dict(type='MSViTEncoderDecoder', backbone=backbone,
                              data_preprocessor=PREPROCESSOR, **UPERNET))
    if state is not None:
        model.load_state_dict(state)
    if gate['type'] == 'MLPGate':
        model.backbone.tokenizer.gate.requires_grad_(False)
    model.train()
    inputs, samples = _mixed_batch()
    torch.manual_seed(seed)  # the same Gumbel noise in both forms
    losses = model.loss(inputs, samples)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return model, losses, grads


@pytest.mark.parametrize('gate', [
    dict(type='PixelStatGate', statistic='std', max_statistic=0.1),  # image 0 fine, image 1 coarse
    dict(type='MLPGate', hidden_dims=(8,)),                       # learned but frozen
])
def test_training_step_packed_equals_masked(gate):
    model, masked_losses, masked_grads = _step(gate, 'masked')
    if gate['type'] == 'PixelStatGate':
        ratio = masked_losses['coarse_ratio']
        assert ratio == 0.5  # one image all fine, the other all coarse
    auto, packed_losses, packed_grads = _step(gate, 'auto', model.state_dict())
    assert auto.backbone.resolve_execution() == 'packed'
    assert masked_losses.keys() == packed_losses.keys()
    for key, value in masked_losses.items():
        assert_close_scaled(packed_losses[key], value, rel=1e-5, msg=key)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(masked_grads) == set(packed_grads) == trainable  # every parameter, both heads
    assert any(n.startswith('auxiliary_head.') for n in trainable)
    for name, grad in masked_grads.items():
        # 1e-3 of the tensor's largest entry: the PSP pooling branch's gradient (BN after a
        # global pool) is a near-cancelling sum, 1e-4 in size, and differs by 3e-8 between
        # the two summation orders; a wrong token or mask changes gradients by O(their size)
        assert_close_scaled(packed_grads[name], grad, rel=1e-3, msg=name)


def _learning_step(counterfactual: str):
    """A packed step with a learning gate; returns losses and every gradient."""
    backbone = dict(BACKBONE, gate=dict(type='MLPGate', hidden_dims=(8,)), execution='packed',
                    packed_counterfactual=counterfactual)
    torch.manual_seed(1)
    model = MODELS.build(dict(type='MSViTEncoderDecoder', backbone=backbone,
                              data_preprocessor=PREPROCESSOR, **UPERNET)).train()
    inputs, samples = _mixed_batch()
    torch.manual_seed(3)
    losses = model.loss(inputs, samples)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    return losses, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_counterfactual_changes_only_the_gate_gradient():
    zero_losses, zero_grads = _learning_step('zero')
    mean_losses, mean_grads = _learning_step('fine_mean')
    assert 0 < zero_losses['coarse_ratio'] < 1  # both kinds of region in the batch
    for key, value in zero_losses.items():
        assert torch.equal(mean_losses[key], value), key
    assert set(zero_grads) == set(mean_grads)
    gate = [n for n in zero_grads if '.gate.' in n]
    assert gate
    for name, grad in zero_grads.items():
        if name in gate:
            continue
        # rel=1e-3: the near-cancelling PSP gradient again (see above); the tokens'
        # gradients are the same sums, gathered in another order
        assert_close_scaled(mean_grads[name], grad, rel=1e-3, msg=name)
    assert not torch.allclose(mean_grads[gate[-1]], zero_grads[gate[-1]])
