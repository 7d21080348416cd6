"""MSViT gradients, token statistics and argument checks."""
import pytest
import torch

from msvit_mm.models.backbones import MSViT
from msvit_mm.models.tokenizers import MixedScaleTokenizer
from tests.helpers import assert_close_scaled

from .helpers import SMALL

TINY = dict(SMALL, num_layers=3, out_indices=(1, 2), embed_dims=16, num_heads=2,
            gate=dict(type='MLPGate', hidden_dims=(8, 8, 8)))


def _grad_names(model, x, mask=None):
    model.zero_grad()
    outs, _ = model.forward_with_aux(x, mask)
    w = [torch.randn_like(o) for o in outs]  # a task loss that uses every output
    sum((o * wi).sum() for o, wi in zip(outs, w)).backward()
    return {n for n, p in model.named_parameters()
            if p.grad is not None and p.grad.abs().sum() > 0}


@pytest.mark.parametrize('execution', ['masked', 'packed'])
def test_task_loss_reaches_every_parameter(execution):
    torch.manual_seed(0)
    model = MSViT(**TINY, execution=execution)
    model.init_weights()
    model.train()
    x = torch.randn(2, 3, 64, 64)
    names = {n for n, _ in model.named_parameters()}
    gate = {n for n in names if n.startswith('tokenizer.gate.')}
    assert len(gate) == 8
    assert _grad_names(model, x) == names  # Gumbel decisions
    # whole batch at one scale: straight-through still reaches the gate
    for value in (True, False):
        mask = torch.full((2, 2, 2), value)
        assert _grad_names(model, x, mask) == names, f'all {"coarse" if value else "fine"}'


def test_masked_gate_gradient_sees_what_could_be():
    """Masked execution: d loss / d weight = <g, coarse_out - fine_out>, both scales computed."""
    torch.manual_seed(0)
    model = MSViT(**TINY, execution='masked').train()
    x = torch.randn(1, 3, 64, 64)
    mask = torch.tensor([[[True, False], [False, True]]])
    model.zero_grad()
    outs, _ = model.forward_with_aux(x, mask)
    outs[-1].sum().backward()
    masked_grad = model.tokenizer.gate.mlp[-1].bias.grad.clone()
    model.zero_grad()
    outs, _ = model.forward_with_aux(x, mask, execution='packed')
    assert model.execution == 'masked'  # for that call only
    outs[-1].sum().backward()
    packed_grad = model.tokenizer.gate.mlp[-1].bias.grad.clone()
    assert masked_grad.abs() > 0 and packed_grad.abs() > 0
    assert not torch.allclose(masked_grad, packed_grad)


def test_auto_execution_and_statistics():
    model = MSViT(**dict(TINY, gate=dict(type='RandomGate', coarse_ratio=0.5)))
    model.train()
    assert model.resolve_execution() == 'packed'  # the gate does not learn
    assert MSViT(**TINY, execution='packed').train().resolve_execution() == 'packed'
    learned = MSViT(**TINY).train()  # the default: auto
    assert learned.resolve_execution() == 'masked_query'
    learned.tokenizer.gate.requires_grad_(False)  # a frozen gate: packed computes the same
    assert learned.resolve_execution() == 'packed'
    learned.tokenizer.gate.requires_grad_(True)
    assert learned.eval().resolve_execution() == 'packed'
    torch.manual_seed(3)
    _, aux = model.forward_with_aux(torch.randn(4, 3, 64, 96))
    mask = aux['coarse_mask']
    assert mask.shape == (4, 2, 3)
    coarse = mask.flatten(1).sum(1)
    assert aux['tokens_per_image'].tolist() == (coarse + 4 * (6 - coarse)).tolist()
    torch.testing.assert_close(aux['coarse_ratio'], coarse.float() / 6)


def test_random_gate_repeats_with_seed_across_executions():
    model = MSViT(**dict(TINY, gate=dict(type='RandomGate', coarse_ratio=0.3))).eval()
    x = torch.randn(3, 3, 64, 64)
    masks = []
    for execution in ('masked', 'packed'):
        torch.manual_seed(7)
        masks.append(model.forward_with_aux(x, execution=execution)[1]['coarse_mask'])
    assert torch.equal(masks[0], masks[1])


def test_threshold_changes_decisions_at_test_time():
    torch.manual_seed(0)
    model = MSViT(**TINY).eval()
    x = torch.randn(2, 3, 64, 64)
    counts = []
    for t in (0.0, 1.0):
        model.tokenizer.gate_threshold = t
        counts.append(model.forward_with_aux(x)[1]['coarse_ratio'].mean().item())
    assert counts == [1.0, 0.0]


@pytest.mark.parametrize('kwargs, name', [
    (dict(coarse_patch_size=48), 'coarse_patch_size'),
    (dict(coarse_patch_size=16), 'coarse_patch_size'),
    (dict(gate=dict(type='MLPGate', threshold=1.5)), 'threshold'),
    (dict(gate=dict(type='MLPGate', threshold=-0.1)), 'threshold'),
    (dict(execution='lazy'), 'execution'),
    (dict(gate=dict(type='RandomGate', coarse_ratio=2.0)), 'coarse_ratio'),
])
def test_bad_arguments_name_themselves(kwargs, name):
    with pytest.raises(ValueError, match=name):
        MSViT(**dict(TINY, **kwargs))


def test_wrong_channel_count_is_reported():
    model = MSViT(**TINY).eval()
    with pytest.raises(ValueError, match='in_channels=3'):
        model(torch.randn(1, 4, 64, 64))


def test_wrong_mask_shape_is_reported():
    model = MSViT(**TINY).eval()
    with pytest.raises(ValueError, match='coarse_mask'):
        model.forward_with_aux(torch.randn(1, 3, 64, 64), torch.ones(1, 3, 3, dtype=torch.bool))


def test_tokenizer_gate_size_matches_docstring():
    tok = MixedScaleTokenizer()
    assert sum(p.numel() for p in tok.gate.parameters()) == 426_497


def test_execution_argument_is_for_one_call_and_checked():
    model = MSViT(**TINY, execution='auto').eval()
    x, mask = torch.randn(2, 3, 64, 64), torch.tensor([[[True, False], [False, True]]] * 2)
    with torch.no_grad():
        outs = {e: model.forward_with_aux(x, mask, execution=e)[0] for e in ('masked', 'packed')}
        default = model.forward_with_aux(x, mask)[0]  # auto, eval: packed
    assert model.execution == 'auto'
    for m, p, d in zip(outs['masked'], outs['packed'], default):
        assert_close_scaled(p, m)
        assert torch.equal(d, p)
    for bad in ('auto', 'dense', 1):
        with pytest.raises(ValueError, match=f"execution={bad!r} is not one of"):
            model.forward_with_aux(x, mask, execution=bad)
    with pytest.raises(ValueError, match="counterfactual='mean' is not one of"):
        model.forward_with_aux(x, mask, counterfactual='mean')
