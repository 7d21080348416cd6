"""``execution='packed_query'``: packed execution plus query-only counterfactual fine tokens
for a sample of the coarse regions. Its values are packed execution's, its non-gate
gradients packed execution's, and its gate gradient masked execution's on the sampled
regions (zero elsewhere)."""
import pytest
import torch
import torch.nn.functional as F

from msvit_mm.models.backbones import MSViT
from msvit_mm.ops import query_layout
from msvit_mm.ops.query_layout import quota, sample_query_regions

from ..helpers import assert_close_scaled
from .helpers import SMALL

# 96 x 80 px: a 6 x 5 fine grid, 3 x 3 regions, the right column cut by the edge
HW = (96, 80)
MASK = torch.tensor([[[True, False, True], [True, True, False], [False, True, True]],
                     [[False, False, False], [False, True, False], [False, False, False]],
                     [[False, False, False], [False, False, False], [False, False, False]]])


def _model(seed: int = 0, **kwargs) -> MSViT:
    torch.manual_seed(seed)
    model = MSViT(**dict(SMALL, gate=dict(type='MLPGate', hidden_dims=(8,)), **kwargs))
    model.init_weights()
    with torch.no_grad():
        model.pos_embed.normal_(std=0.5)
        model.cls_token.normal_(std=0.5)
    return model.train()


def _inputs():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 3, *HW, generator=gen)
    grads = [torch.randn(3, 32, 6, 5, generator=gen) for _ in SMALL['out_indices']]
    return x, grads


def _run(model: MSViT, execution: str, share: float = 1., seed: int = 2, **kwargs):
    """Outputs, aux, the gate logits' gradient and every other gradient of
    ``sum(out * g)`` with the fixed decisions ``MASK`` (``kwargs``: more arguments of
    ``forward_with_aux``)."""
    x, grads = _inputs()
    model.zero_grad()
    torch.manual_seed(seed)
    outs, aux = model.forward_with_aux(x, MASK, execution, query_share=share, **kwargs)
    aux['gate_logits'].retain_grad()
    sum((o * g).sum() for o, g in zip(outs, grads)).backward()
    params = {n: p.grad.clone() for n, p in model.named_parameters()
              if p.grad is not None and not n.startswith('tokenizer.gate.')}
    return [o.detach() for o in outs], aux, aux['gate_logits'].grad, params


@pytest.mark.parametrize('share', [1., 0.5])
def test_values_and_token_gradients_are_packed_executions(share):
    model = _model()
    q_outs, aux, _, q_params = _run(model, 'packed_query', share)
    p_outs, _, _, p_params = _run(model, 'packed')
    m_outs, _, _, _ = _run(model, 'masked')
    for q, p, m in zip(q_outs, p_outs, m_outs):
        # packed execution's computation; sampled cells add (1 - w) * fine, w = 1 up to an
        # ulp (straight-through value 1 + s - s): the same rounding as masked execution's
        assert_close_scaled(q, p, 1e-6)
        assert_close_scaled(q, m, 1e-5)
    assert set(q_params) == set(p_params) and len(q_params) > 10
    for name, grad in p_params.items():
        assert_close_scaled(q_params[name], grad, 1e-5, msg=name)
    assert aux['query_mask'].shape == MASK.shape


@pytest.mark.parametrize('share', [1., 0.5, 0.2])
def test_gate_gradient_is_masked_executions_on_sampled_regions(share):
    model = _model()
    _, aux, q_grad, _ = _run(model, 'packed_query', share)
    _, _, m_grad, _ = _run(model, 'masked')
    sampled = aux['query_mask']
    assert not (sampled & ~MASK).any()
    counts = MASK.flatten(1).sum(1).tolist()
    assert sampled.flatten(1).sum(1).tolist() == [quota(share, n) for n in counts]
    if share == 1.:
        assert torch.equal(sampled, MASK)
    assert_close_scaled(q_grad[sampled], m_grad[sampled], 1e-4)
    assert m_grad[sampled].abs().min() > 1e-3 * m_grad.abs().max()  # a gradient to compare
    assert torch.equal(q_grad[~sampled], torch.zeros_like(q_grad[~sampled]))


def _leaky_query_attention(queries, qkv, mha, seqlens, query_seqlens, *unused):
    """The query tokens also attend to each other (they are keys of their image)."""
    c, h = queries.shape[1], mha.num_heads
    with torch.no_grad():
        q_real = F.linear(queries, mha.in_proj_weight, mha.in_proj_bias).view(-1, 3, h, c // h)
        outs, ks, qs = [], 0, 0
        for n, m in zip(seqlens, query_seqlens):
            if m:
                keys = torch.cat([qkv[ks:ks + n], q_real[qs:qs + m]])  # n + m, 3, h, d
                q = q_real[qs:qs + m, 0].transpose(0, 1)[None]
                k, v = (keys[:, i].transpose(0, 1)[None] for i in (1, 2))
                outs.append(F.scaled_dot_product_attention(q, k, v)[0].transpose(0, 1)
                            .reshape(m, c))
            ks, qs = ks + n, qs + m
        return mha.out_proj(torch.cat(outs))


def test_gate_gradient_test_sees_queries_that_are_keys(monkeypatch):
    model = _model()
    _, aux, exact, _ = _run(model, 'packed_query', 1.)
    _, _, m_grad, _ = _run(model, 'masked')
    monkeypatch.setattr(query_layout, 'query_attention', _leaky_query_attention)
    outs, _, leaky, _ = _run(model, 'packed_query', 1.)
    sampled = aux['query_mask']
    assert_close_scaled(exact[sampled], m_grad[sampled], 1e-4)
    with pytest.raises(AssertionError):
        assert_close_scaled(leaky[sampled], m_grad[sampled], 1e-4)


def test_sample_is_per_image_and_follows_the_seed():
    mask = torch.rand(4, 6, 6, generator=torch.Generator().manual_seed(0)) > 0.4
    mask[3] = False
    draws = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        draws.append(sample_query_regions(mask, 0.3))
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])
    for d in draws:
        assert not (d & ~mask).any()
        assert d.flatten(1).sum(1).tolist() == [
            quota(0.3, n) for n in mask.flatten(1).sum(1).tolist()]
    assert [quota(0.3, n) for n in (0, 1, 3, 10, 11)] == [0, 1, 1, 3, 4]
    assert [quota(1e-6, n) for n in (0, 1, 7)] == [0, 1, 1]
    ten = torch.zeros(1, 4, 4, dtype=torch.bool)
    ten.view(-1)[:10] = True
    assert int(sample_query_regions(ten, 0.3).sum()) == 3  # not 4 (0.3 * 10 > 3 in floats)
    # per image: the same decisions in two images get their own samples
    same = mask[:1].expand(64, -1, -1)
    torch.manual_seed(0)
    picks = sample_query_regions(same, 0.3)
    assert len({tuple(p.flatten().tolist()) for p in picks}) > 1
    # through the backbone, the draw follows the seed
    model = _model()
    masks = [_run(model, 'packed_query', 0.5, seed)[1]['query_mask'] for seed in (3, 3)]
    assert torch.equal(*masks)


@pytest.mark.parametrize('share', [0, 1.5, True, '0.5'])
def test_bad_query_share_is_refused(share):
    with pytest.raises(ValueError, match='query_share'):
        MSViT(**dict(SMALL, query_share=share))
    model = _model()
    with pytest.raises(ValueError, match='query_share'):
        model.forward_with_aux(torch.zeros(1, 3, 64, 64), execution='packed_query',
                               query_share=share)


def test_masked_query_is_masked_execution():
    """Every absent token of both scales as a query-only token: masked execution's values,
    gate-logit gradient (every region) and other gradients."""
    model = _model()
    q_outs, aux, q_grad, q_params = _run(model, 'masked_query')
    m_outs, _, m_grad, m_params = _run(model, 'masked')
    assert aux['query_mask'].all()
    for q, m in zip(q_outs, m_outs):
        assert_close_scaled(q, m, 1e-5)
    assert_close_scaled(q_grad, m_grad, 1e-4)
    assert (m_grad.abs() > 1e-3 * m_grad.abs().max()).float().mean() > 0.9
    assert set(q_params) == set(m_params)
    for name, grad in m_params.items():
        assert_close_scaled(q_params[name], grad, 1e-5, msg=name)


@pytest.mark.parametrize('execution', ['packed_query', 'masked_query'])
def test_query_forms_run_only_while_the_gate_learns(execution):
    model = _model(execution=execution)
    assert model.resolve_execution() == execution
    model.tokenizer.gate.requires_grad_(False)
    assert model.resolve_execution() == 'packed'  # the same values, no query tokens
    model.tokenizer.gate.requires_grad_(True)
    assert model.eval().resolve_execution() == 'packed'
    with pytest.raises(ValueError, match='execution'):
        model.resolve_execution('packed_queries')
