"""MSViT forced to one scale equals mmseg's ViT; packed equals masked."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.models.backbones import VisionTransformer

from msvit_mm.models.backbones import MSViT
from msvit_mm.ops.patchify import grid_size
from tests.helpers import assert_close_scaled

from .helpers import SMALL, vit_and_msvit



@pytest.mark.parametrize('final_norm', [True, False])
@pytest.mark.parametrize('with_cls_token', [True, False])
@pytest.mark.parametrize('hw', [(64, 64), (48, 80)])
@pytest.mark.parametrize('execution', ['masked', 'packed'])
def test_all_fine_equals_mmseg_vit(final_norm, with_cls_token, hw, execution):
    vit, msvit = vit_and_msvit(final_norm=final_norm, with_cls_token=with_cls_token,
                               gate=dict(type='FixedGate', coarse=False), execution=execution)
    x = torch.randn(2, 3, *hw)
    with torch.no_grad():
        ref, out = vit(x), msvit(x)
    assert len(out) == 4
    for r, o in zip(ref, out):
        assert o.shape == r.shape == (2, 32, *grid_size(hw, 16))
        assert_close_scaled(o, r)


@pytest.mark.parametrize('hw', [(64, 64), (48, 80)])
@pytest.mark.parametrize('execution', ['masked', 'packed'])
def test_all_coarse_equals_vit_on_pooled_image(hw, execution):
    _, msvit = vit_and_msvit(gate=dict(type='FixedGate', coarse=True), execution=execution,
                             final_norm=True)
    x = torch.randn(2, 3, *hw)
    # reference: ViT/16 on the padded, 2x2-pooled image with 2x2-averaged position embeddings
    (hv, wv), (hc, wc) = grid_size(hw, 16), grid_size(hw, 32)
    fine_pos, cls_pos = msvit.fine_pos_embed((hv, wv))
    fine_pos = F.pad(fine_pos, (0, 2 * wc - wv, 0, 2 * hc - hv), mode='replicate')
    coarse_pos = F.avg_pool2d(fine_pos, 2).flatten(2).transpose(1, 2)
    ref_vit = VisionTransformer(**dict(SMALL, img_size=(hc * 16, wc * 16), final_norm=True))
    state = {k: v for k, v in msvit.state_dict().items() if not k.startswith('tokenizer.')}
    state['pos_embed'] = torch.cat([cls_pos, coarse_pos], 1)
    ref_vit.load_state_dict(state)
    ref_vit.eval()
    pooled = F.avg_pool2d(F.pad(x, (0, wc * 32 - hw[1], 0, hc * 32 - hw[0])), 2)
    with torch.no_grad():
        ref, out = ref_vit(pooled), msvit(x)
    for r, o in zip(ref, out):
        r = r.repeat_interleave(2, 2).repeat_interleave(2, 3)[:, :, :hv, :wv]
        assert_close_scaled(o, r)


def _mixed_batch():
    """Three 64x96 images (2x3 regions): mixed, all coarse, all fine."""
    x = torch.randn(3, 3, 64, 96)
    mask = torch.tensor([[[True, False, True], [False, False, True]],
                         [[True] * 3, [True] * 3],
                         [[False] * 3, [False] * 3]])
    return x, mask


@pytest.mark.parametrize('with_cls_token', [True, False])
def test_packed_equals_masked_and_single_image(with_cls_token):
    _, msvit = vit_and_msvit(with_cls_token=with_cls_token, out_indices=(0, 5, 11),
                             final_norm=True)
    x, mask = _mixed_batch()
    with torch.no_grad():
        masked, aux = msvit.forward_with_aux(x, mask, execution='masked')
        packed, _ = msvit.forward_with_aux(x, mask, execution='packed')
        alone = [msvit.forward_with_aux(x[i:i + 1], mask[i:i + 1], execution='packed')[0]
                 for i in range(3)]
    assert aux['tokens_per_image'].tolist() == [3 + 3 * 4, 6, 24]
    for m, p in zip(masked, packed):
        assert m.shape == (3, 32, 4, 6)
        assert_close_scaled(p, m)
    for i in range(3):
        for p, a in zip(packed, alone[i]):
            assert_close_scaled(a[0], p[i])
    # the three images really differ in what they compute
    assert not torch.allclose(masked[-1][1], masked[-1][2], atol=1e-3)


def test_explicit_corner_patch_pad_equals_mmseg_vit():
    vit, msvit = vit_and_msvit(patch_pad='corner', gate=dict(type='FixedGate', coarse=False))
    x = torch.randn(1, 3, 50, 70)  # sides not multiples of 16: the padding matters
    with torch.no_grad():
        for r, o in zip(vit(x), msvit(x)):
            assert_close_scaled(o, r)


@pytest.mark.parametrize('patch_pad', ['same', 0, 1, 3])
def test_other_patch_pads_are_refused_at_construction(patch_pad):
    """mmseg pads 'same' symmetrically and an integer inside the convolution (another grid:
    15x22 instead of 14x21 for 234x345); MSViT's regions would differ, so it refuses."""
    with pytest.raises(ValueError, match=r"supports only patch_pad='corner'") as err:
        MSViT(**dict(SMALL, num_layers=1, out_indices=(0,)), patch_pad=patch_pad)
    assert f'patch_pad={patch_pad!r}' in str(err.value)
