"""Each gate type: its decisions, its gradients and the checks of its arguments."""
import math

import pytest
import torch
from mmseg.registry import MODELS

from msvit_mm.models.backbones import MSViT
from msvit_mm.models.gates import FixedGate, MLPGate, PixelStatGate, RandomGate

from .test_msvit_backbone import TINY


def _image():
    """[2, 3, 64, 64]: image 0 flat except region (1, 1); image 1 flat except region (0, 0)."""
    torch.manual_seed(0)
    x = torch.zeros(2, 3, 64, 64)
    x[0, :, 32:, 32:] = torch.randn(3, 32, 32)
    x[1, :, :32, :32] = torch.randn(3, 32, 32)
    return x


def _has_grad(module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


@pytest.mark.parametrize('cfg, learned', [
    (dict(type='MLPGate', hidden_dims=(8,)), True),
    (dict(type='FixedGate', coarse=True), False),
    (dict(type='RandomGate', coarse_ratio=0.5), False),
    (dict(type='PixelStatGate', statistic='entropy', coarse_ratio=0.5), False),
    (dict(type='PixelStatGate', statistic='std', max_statistic=0.1), False),
])
def test_only_the_learned_gate_gets_gradient(cfg, learned):
    torch.manual_seed(0)
    model = MSViT(**dict(TINY, gate=cfg)).train()
    assert model.tokenizer.gate.learned is learned
    outs, aux = model.forward_with_aux(_image())
    assert aux['coarse_mask'].shape == (2, 2, 2) and aux['coarse_mask'].dtype == torch.bool
    sum(o.sum() for o in outs).backward()
    assert _has_grad(model.tokenizer.gate) is learned
    assert _has_grad(model.layers)  # the transformer learns whatever the gate


@pytest.mark.parametrize('statistic', ['entropy', 'std'])
def test_pixel_rules_keep_the_flat_regions_coarse(statistic):
    gate = PixelStatGate(statistic=statistic, coarse_ratio=0.75, region_size=32)
    _, mask, weight = gate(_image())
    expected = torch.ones(2, 2, 2, dtype=torch.bool)
    expected[0, 1, 1] = expected[1, 0, 0] = False
    assert torch.equal(mask, expected)
    assert torch.equal(weight, expected.float())
    thresholded = PixelStatGate(statistic=statistic, max_statistic=1e-3)
    assert torch.equal(thresholded(_image()).mask, expected)


def test_fixed_and_random_gates():
    x = _image()
    assert bool(FixedGate(coarse=True)(x).mask.all())
    assert not bool(FixedGate(coarse=False)(x).mask.any())
    torch.manual_seed(0)
    masks = RandomGate(coarse_ratio=0.3)(torch.zeros(64, 3, 64, 64)).mask
    assert abs(masks.float().mean().item() - 0.3) < 0.08
    assert not bool(RandomGate(coarse_ratio=0.0)(x).mask.any())


def test_learned_gate_threshold_and_noise():
    gate = MLPGate(region_size=32, hidden_dims=(8,)).eval()
    x = _image()
    probs = torch.sigmoid(gate.scores(x))
    assert torch.equal(gate(x).mask, probs > 0.5)
    gate.threshold = 0.0
    assert bool(gate(x).mask.all())
    gate.train()
    out = gate(x)
    out.weight.sum().backward()  # straight-through: the value is hard, the gradient soft
    torch.testing.assert_close(out.weight.detach(), out.mask.float(), atol=1e-6, rtol=0)
    assert _has_grad(gate)


def test_forced_decisions_replace_any_gate():
    mask = torch.tensor([[[True, False], [False, True]]] * 2)
    for cfg in (dict(type='FixedGate'), dict(type='PixelStatGate'), dict(type='MLPGate')):
        gate = MODELS.build(cfg)
        assert torch.equal(gate(_image(), mask).mask, mask)
    with pytest.raises(ValueError, match='coarse grid'):
        FixedGate()(_image(), mask[:, :1])


NAN, INF = math.nan, math.inf


@pytest.mark.parametrize('cls, kwargs, name', [
    (PixelStatGate, dict(bins=2.5), 'bins'),
    (PixelStatGate, dict(bins=0), 'bins'),
    (PixelStatGate, dict(bins=True), 'bins'),
    (PixelStatGate, dict(value_range=(1,)), 'value_range'),
    (PixelStatGate, dict(value_range=(1.0, -1.0)), 'value_range'),
    (PixelStatGate, dict(value_range=(0.0, NAN)), 'value_range'),
    (PixelStatGate, dict(max_statistic=-1), 'max_statistic'),
    (PixelStatGate, dict(max_statistic=NAN), 'max_statistic'),
    (PixelStatGate, dict(max_statistic=INF), 'max_statistic'),
    (PixelStatGate, dict(coarse_ratio=1.5), 'coarse_ratio'),
    (PixelStatGate, dict(coarse_ratio=NAN), 'coarse_ratio'),
    (PixelStatGate, dict(coarse_ratio='half'), 'coarse_ratio'),
    (PixelStatGate, dict(statistic='variance'), 'statistic'),
    (PixelStatGate, dict(coarse_ratio=0.5, max_statistic=1.0), 'exactly one'),
    (FixedGate, dict(coarse='no'), 'coarse'),
    (FixedGate, dict(coarse=1), 'coarse'),
    (MLPGate, dict(hidden_dims=(0,)), 'hidden_dims'),
    (MLPGate, dict(hidden_dims=(8, -4)), 'hidden_dims'),
    (MLPGate, dict(hidden_dims=(8.5,)), 'hidden_dims'),
    (MLPGate, dict(hidden_dims=64), 'hidden_dims'),
    (MLPGate, dict(temperature=0), 'temperature'),
    (MLPGate, dict(temperature=NAN), 'temperature'),
    (MLPGate, dict(threshold=-0.1), 'threshold'),
    (MLPGate, dict(threshold=NAN), 'threshold'),
    (MLPGate, dict(estimator='reinforce'), 'estimator'),
    (RandomGate, dict(coarse_ratio=1.5), 'coarse_ratio'),
    (RandomGate, dict(coarse_ratio=NAN), 'coarse_ratio'),
    (RandomGate, dict(coarse_ratio=-0.1), 'coarse_ratio'),
    (FixedGate, dict(region_size=0), 'region_size'),
    (RandomGate, dict(in_channels=2.0), 'in_channels'),
])
def test_bad_gate_arguments_name_themselves(cls, kwargs, name):
    with pytest.raises(ValueError, match=f'{cls.__name__}.*{name}'):
        cls(**kwargs)


def test_threshold_is_checked_when_set():
    gate = MLPGate(hidden_dims=(4,), threshold=1.0)
    gate.threshold = 0
    assert gate.threshold == 0.0 and isinstance(gate.threshold, float)
    for bad in (1.5, NAN, None):
        with pytest.raises(ValueError, match='MLPGate threshold'):
            gate.threshold = bad
    assert gate.threshold == 0.0
    assert not hasattr(PixelStatGate(max_statistic=1.0), 'threshold')  # a bound, not a probability
    with pytest.raises(TypeError, match='PixelStatGate has no threshold .* max_statistic'):
        PixelStatGate(threshold=0.5)


def test_frozen_exclude_and_positional_in_channels_reach_the_gate():
    model = MSViT(**TINY, frozen_exclude=['layers'])
    assert not any(p.requires_grad for p in model.tokenizer.gate.parameters())
    args = (TINY['img_size'], TINY['patch_size'], 'corner', 1)  # in_channels=1 by position
    rest = {k: v for k, v in TINY.items() if k not in ('img_size', 'patch_size')}
    model = MSViT(*args, **rest)
    assert model.tokenizer.gate.mlp[0].in_features == 1 * 32 * 32
    outs, _ = model.forward_with_aux(torch.randn(1, 1, 64, 64))
    assert outs[0].shape[1] == TINY['embed_dims']


def test_coarse_only_estimator_passes_gradient_through_coarse_decisions_only():
    torch.manual_seed(0)
    gate = MLPGate(region_size=32, hidden_dims=(8,), estimator='coarse_only').train()
    x = _image()
    logits = gate.scores(x)
    logits.retain_grad()
    mask, weight = gate.decide(logits)
    assert bool(mask.any()) and not bool(mask.all())
    weight.sum().backward()
    assert bool((logits.grad[mask] > 0).all()) and bool((logits.grad[~mask] == 0).all())
