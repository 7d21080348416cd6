"""MSViTImageClassifier: gate losses in ``loss``, packed equals masked, checkpoints with head."""
import pytest

pytest.importorskip('mmpretrain.models')

import torch  # noqa: E402
from mmpretrain.structures import DataSample  # noqa: E402

from msvit_mm.classification.checkpoint import load_classifier_checkpoint  # noqa: E402
from msvit_mm.engine.checkpoints import (NonFiniteCheckpointError,  # noqa: E402
                                         UnsafeCheckpointError)
from tests.helpers import assert_close_scaled  # noqa: E402

from .helpers import (NUM_CLASSES, as_timm, head_cfg, msvit_classifier,  # noqa: E402
                      pretrain_classifier)

GBAS = dict(type='GeneralizedBatchShapingLoss', grid_size=(2, 2), target_coarse_ratio=0.5)


def samples(n: int):
    return [DataSample().set_gt_label(i % NUM_CLASSES) for i in range(n)]


def test_loss_has_gate_loss_and_statistics_and_gradient_reaches_gate():
    model = msvit_classifier(gate=dict(type='MLPGate', hidden_dims=(8,)), gate_loss=GBAS).train()
    losses = model.loss(torch.randn(4, 3, 64, 64), samples(4))
    assert set(losses) == {'loss', 'loss_gate_gbas', 'tokens_per_image', 'coarse_ratio'}
    assert not losses['tokens_per_image'].requires_grad
    gate = list(model.backbone.tokenizer.gate.parameters())
    grads = torch.autograd.grad(losses['loss_gate_gbas'], gate, allow_unused=True)
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0


def test_classifier_packed_equals_masked_fixed_mixed_gate():
    gate = dict(type='PixelStatGate', statistic='std', coarse_ratio=0.5)
    masked = msvit_classifier(gate=gate, backbone=dict(execution='masked')).eval()
    packed = msvit_classifier(gate=gate, backbone=dict(execution='packed')).eval()
    packed.load_state_dict(masked.state_dict())
    x = torch.rand(3, 3, 64, 96)
    x[1, :, :32] = 0.5  # flat regions: the rule's choice differs between images
    with torch.no_grad():
        a, b = masked(x), packed(x)
        ratio = masked.backbone.forward_with_aux(x)[1]['coarse_ratio']
    assert 0 < ratio.mean() < 1
    assert a.shape == (3, NUM_CLASSES)
    assert_close_scaled(b, a)


def _msvit_state(ref, tmp_path):
    """An MSViT classifier's own state dict (gate included) holding ``ref``'s weights."""
    model = msvit_classifier(gate=dict(type='MLPGate', hidden_dims=(8,)))
    torch.save(ref.state_dict(), tmp_path / 'ref.pth')
    load_classifier_checkpoint(model, str(tmp_path / 'ref.pth'))
    return model.state_dict()


@pytest.mark.parametrize('layout', ['mmpretrain', 'timm', 'msvit'])
def test_checkpoint_with_head_gives_the_same_logits(tmp_path, layout):
    ref = pretrain_classifier()
    state = ref.state_dict()
    if layout == 'mmpretrain':
        ckpt = {'state_dict': state, 'meta': {}}
    elif layout == 'timm':  # DeiT's release: under 'model', with a distillation head
        ckpt = {'model': dict(as_timm(state), **{'head_dist.weight': torch.zeros(5, 32)})}
    else:  # an MSViT classifier's own weights, gate included
        ckpt = {'state_dict': _msvit_state(ref, tmp_path)}
    torch.save(ckpt, tmp_path / 'ckpt.pth')
    init = dict(type='Pretrained', checkpoint=str(tmp_path / 'ckpt.pth'))
    model = msvit_classifier(gate=dict(type='MLPGate', hidden_dims=(8,)), init_cfg=init)
    model.init_weights()
    x = torch.randn(2, 3, 64, 64)
    mask = torch.zeros(2, 2, 2, dtype=torch.bool)  # all fine: the ViT/16
    with torch.no_grad():
        want = ref(x)
        feats, _ = model.eval().backbone.forward_with_aux(x, mask)
        got = model.head(feats)
    assert_close_scaled(got, want)
    assert want.abs().max() > 0.1  # the head is loaded, not zero


def test_head_that_does_not_fit_is_refused_or_skipped(tmp_path):
    torch.save(pretrain_classifier().state_dict(), tmp_path / 'ckpt.pth')
    cfg = dict(type='Pretrained', checkpoint=str(tmp_path / 'ckpt.pth'))
    other = dict(head_cfg(), num_classes=7)
    with pytest.raises(ValueError, match=r'ckpt.pth: the classification head does not fit.*'
                       r'layers.head.weight: checkpoint \[5, 32\] vs model \[7, 32\]'):
        msvit_classifier(head=other, init_cfg=cfg).init_weights()
    model = msvit_classifier(head=other, init_cfg=dict(cfg, load_head=False))
    model.init_weights()
    assert model.head.layers.head.weight.shape == (7, 32)


def test_linear_head_and_missing_head_refused(tmp_path):
    ref = pretrain_classifier()
    state = {k: v for k, v in ref.state_dict().items() if not k.startswith('head.')}
    torch.save(state, tmp_path / 'backbone_only.pth')
    cfg = dict(type='Pretrained', checkpoint=str(tmp_path / 'backbone_only.pth'))
    with pytest.raises(ValueError, match=r'backbone_only.pth: the checkpoint does not cover '
                       r"the classifier: missing \['head.fc.weight'"):
        msvit_classifier(head=head_cfg('LinearClsHead'), init_cfg=cfg).init_weights()
    torch.save(ref.state_dict(), tmp_path / 'full.pth')
    model = msvit_classifier(head=head_cfg('LinearClsHead'),
                             init_cfg=dict(cfg, checkpoint=str(tmp_path / 'full.pth')))
    model.init_weights()
    torch.testing.assert_close(model.head.fc.weight, ref.head.layers.head.weight)


class Payload:
    """Stands for an object a checkpoint file may pickle (and run code when rebuilt)."""


def test_untrusted_or_nonfinite_checkpoint_refused(tmp_path):
    state = pretrain_classifier().state_dict()
    torch.save({'state_dict': state, 'meta': {'obj': Payload()}}, tmp_path / 'pickled.pth')
    cfg = dict(type='Pretrained', checkpoint=str(tmp_path / 'pickled.pth'))
    with pytest.raises(UnsafeCheckpointError, match=r'pickled.pth.*MSVIT_TRUST_CHECKPOINTS'):
        msvit_classifier(init_cfg=cfg).init_weights()
    state['head.layers.head.weight'][0, 0] = float('nan')
    torch.save(state, tmp_path / 'nan.pth')
    with pytest.raises(NonFiniteCheckpointError, match=r'nan.pth.*head.layers.head.weight'):
        msvit_classifier(init_cfg=dict(cfg, checkpoint=str(tmp_path / 'nan.pth'))).init_weights()
