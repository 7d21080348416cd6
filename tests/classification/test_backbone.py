"""MSViTCls: mmpretrain's out_types, all-fine equals mmpretrain's ViT, packed equals masked."""
import pytest

pytest.importorskip('mmpretrain.models')

import torch  # noqa: E402

from msvit_mm.classification.backbone import MSViTCls, arch_settings  # noqa: E402
from msvit_mm.classification.checkpoint import load_classifier_checkpoint  # noqa: E402
from tests.helpers import assert_close_scaled  # noqa: E402

from .helpers import msvit_classifier, pretrain_classifier  # noqa: E402

OUT_TYPES = ['cls_token', 'featmap', 'avg_featmap', 'raw']


@pytest.mark.parametrize('out_type,with_cls_token', [(t, True) for t in OUT_TYPES] +
                         [('avg_featmap', False), ('raw', False)])
@pytest.mark.parametrize('execution', ['masked', 'packed'])
def test_all_fine_equals_mmpretrain_vit(tmp_path, out_type, with_cls_token, execution):
    ref = pretrain_classifier(out_type, with_cls_token=with_cls_token)
    torch.save({'state_dict': ref.state_dict()}, tmp_path / 'vit.pth')
    model = msvit_classifier(out_type=out_type, backbone=dict(execution=execution,
                                                              with_cls_token=with_cls_token))
    load_classifier_checkpoint(model, str(tmp_path / 'vit.pth'))
    x = torch.randn(2, 3, 48, 80)  # not the 64x64 of pos_embed: both resize it the same way
    with torch.no_grad():
        want, got = ref.backbone(x)[-1], model.eval().backbone(x)[-1]
    assert got.shape == want.shape
    assert_close_scaled(got, want)


@pytest.mark.parametrize('out_type', OUT_TYPES)
def test_packed_equals_masked_mixed(out_type):
    model = msvit_classifier(out_type=out_type).eval()
    bb = model.backbone
    x = torch.randn(3, 3, 64, 96)
    mask = torch.rand(3, 2, 3) < 0.5
    mask[0] = True  # one image all coarse, one all fine
    mask[1] = False
    with torch.no_grad():
        masked, aux = bb.forward_with_aux(x, mask, execution='masked')
        packed, _ = bb.forward_with_aux(x, mask, execution='packed')
    shapes = dict(cls_token=(3, 32), featmap=(3, 32, 4, 6), avg_featmap=(3, 32),
                  raw=(3, 25, 32))
    assert masked[-1].shape == shapes[out_type]
    assert_close_scaled(packed[-1], masked[-1])
    assert aux['tokens_per_image'].tolist() == [6, 24, 24 - 3 * int(mask[2].sum())]


def test_key_weighted_masked_values_and_gate_gradient():
    """A learning gate in masked execution: values equal packed execution's; the loss of the
    cls token alone reaches the gate."""
    model = msvit_classifier(gate=dict(type='MLPGate', hidden_dims=(8,)))
    bb = model.backbone.train()
    x = torch.randn(2, 3, 64, 64)
    mask = torch.tensor([[[True, False], [False, True]], [[False, False], [True, False]]])
    out, _ = bb.forward_with_aux(x, mask, execution='masked')
    with torch.no_grad():
        ref, _ = bb.forward_with_aux(x, mask, execution='packed')
    assert_close_scaled(out[-1], ref[-1])
    out[-1].square().sum().backward()
    grads = [p.grad for p in bb.tokenizer.gate.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


def test_arch_names_and_refusals():
    assert arch_settings('deit-small') == dict(embed_dims=384, num_layers=12, num_heads=6,
                                              mlp_ratio=4)
    with pytest.raises(ValueError, match="out_type='tokens' is not one of"):
        MSViTCls(out_type='tokens')
    with pytest.raises(ValueError, match='packed_query.*dense'):
        MSViTCls(arch='deit-tiny', execution='packed_query')
    with pytest.raises(ValueError, match='give arch or'):
        MSViTCls(arch='deit-tiny', embed_dims=64)
    with pytest.raises(ValueError, match="arch='huge-ish' is not one of"):
        MSViTCls(arch='huge-ish')
