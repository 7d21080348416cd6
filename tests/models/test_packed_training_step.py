"""A training step with a gate that does not learn: packed (auto) equals masked, to the bit
of every loss and within rounding of every gradient, decode and auxiliary heads included."""
import pytest
import torch
from mmseg.registry import MODELS

from msvit_mm.ops import drop_path
from msvit_mm.ops.drop_path import keep_mask

from ..helpers import assert_close_scaled
from .test_segmentor import BACKBONE, PREPROCESSOR, UPERNET, _batch


def _mixed_batch():
    """Image 0 is noise (every region detailed), image 1 flat (every region smooth)."""
    torch.manual_seed(0)
    inputs, samples = _batch(2)
    inputs[1] = 0.5
    return inputs, samples


def _step(gate: dict, execution: str, state=None, seed: int = 0, drop_path_rate: float = 0.):
    backbone = dict(BACKBONE, gate=gate, execution=execution, drop_path_rate=drop_path_rate)
    torch.manual_seed(1)
    model = MODELS.build(dict(type='MSViTEncoderDecoder', backbone=backbone,
                              data_preprocessor=PREPROCESSOR, **UPERNET))
    if state is not None:
        model.load_state_dict(state)
    if gate['type'] == 'MLPGate':
        model.backbone.tokenizer.gate.requires_grad_(False)
    model.train()
    inputs, samples = _mixed_batch()
    torch.manual_seed(seed)  # the same Gumbel noise and stochastic depth draws in both forms
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


def test_training_step_with_drop_path_packed_equals_masked(monkeypatch):
    """drop_path_rate=0.1 (every ADE20K config's): the same images' branches are dropped in
    both forms (one draw per image and branch, in the same order), so losses and gradients
    agree as without it."""
    draws = []

    def recording_keep_mask(*args):
        mask = keep_mask(*args)
        draws[-1].append(mask.tolist())
        return mask

    monkeypatch.setattr(drop_path, 'keep_mask', recording_keep_mask)
    gate = dict(type='MLPGate', hidden_dims=(8,))
    results = []
    for execution in ('masked', 'auto'):
        draws.append([])
        state = results[0][0].state_dict() if results else None
        results.append(_step(gate, execution, state, seed=5, drop_path_rate=0.1))
    (_, masked_losses, masked_grads), (auto, packed_losses, packed_grads) = results
    assert auto.backbone.resolve_execution() == 'packed'
    assert 0 < masked_losses['coarse_ratio'] < 1  # coarse and fine regions in the batch
    # layers 1-3 have stochastic depth (mmseg: linear from 0); seed 5 drops image 0 twice
    assert draws[0] == draws[1] == [[0., 1.], [1., 1.], [0., 1.]]
    for key, value in masked_losses.items():
        assert_close_scaled(packed_losses[key], value, rel=1e-5, msg=key)
    assert set(masked_grads) == set(packed_grads)
    for name, grad in masked_grads.items():
        assert_close_scaled(packed_grads[name], grad, rel=1e-3, msg=name)  # as above


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
