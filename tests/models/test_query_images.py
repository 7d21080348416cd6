"""``query_image_share``: the query forms on a random share of the batch's images only.

The sampled images' gate gradient is the full form's times B / sampled, the others' is zero;
values and every other gradient stay packed execution's; the draw follows the seed."""
import pytest
import torch

from msvit_mm.models.backbones import MSViT
from msvit_mm.ops.query_layout import quota, sample_query_images

from ..helpers import assert_close_scaled
from .helpers import SMALL
from .test_query_execution import MASK, _model
from .test_query_execution import _run as query_run


def _run(model: MSViT, execution: str, image_share: float = 1.):
    return query_run(model, execution, query_image_share=image_share)


@pytest.mark.parametrize('share', [1 / 3, 0.5])
def test_masked_query_on_some_images(share):
    model = _model()
    i_outs, aux, i_grad, i_params = _run(model, 'masked_query', share)
    m_outs, _, m_grad, m_params = _run(model, 'masked_query')
    p_outs, _, _, p_params = _run(model, 'packed')
    images = aux['query_mask'].flatten(1).any(1)
    k = quota(share, 3)
    assert int(images.sum()) == k
    assert torch.equal(aux['query_mask'], images[:, None, None].expand_as(MASK))
    for i, p in zip(i_outs, p_outs):
        assert_close_scaled(i, p, 1e-6)
    for name, grad in p_params.items():  # the other gradients are packed execution's
        assert_close_scaled(i_params[name], grad, 1e-5, msg=name)
    # sampled images: masked execution's gate gradient times B / k; the others: none
    assert_close_scaled(i_grad[images], m_grad[images] * 3 / k, 1e-4)
    assert m_grad[images].abs().max() > 0
    assert torch.equal(i_grad[~images], torch.zeros_like(i_grad[~images]))


def test_packed_query_on_some_images_keeps_its_region_sample_inside_them():
    model = _model()
    _, aux, grad, _ = _run(model, 'packed_query', 0.5)
    sampled = aux['query_mask']
    images = sampled.flatten(1).any(1)
    assert not (sampled & ~MASK).any()
    assert int(images.sum()) <= quota(0.5, 3)
    assert torch.equal(grad[~sampled], torch.zeros_like(grad[~sampled]))


def test_image_sample_follows_the_seed_and_share_one_draws_nothing():
    draws = []
    for seed in (0, 0, 1, 2, 3):
        torch.manual_seed(seed)
        draws.append(sample_query_images(16, 0.25))
    assert torch.equal(draws[0], draws[1])
    assert len({tuple(d.tolist()) for d in draws}) > 1
    assert all(int(d.sum()) == 4 for d in draws)
    state = torch.get_rng_state()
    assert sample_query_images(5, 1.).all()
    assert sample_query_images(1, 0.5).all() and sample_query_images(2, 0.9).all()
    assert torch.equal(torch.get_rng_state(), state)  # no draw: existing runs unchanged
    assert int(sample_query_images(3, 1e-3).sum()) == 1


@pytest.mark.parametrize('share', [0, 1.5, True, '0.5'])
def test_bad_image_share_is_refused(share):
    with pytest.raises(ValueError, match='query_image_share'):
        MSViT(**dict(SMALL, query_image_share=share))
    with pytest.raises(ValueError, match='query_image_share'):
        _model().forward_with_aux(torch.zeros(1, 3, 64, 64), execution='masked_query',
                                  query_image_share=share)
