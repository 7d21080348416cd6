"""The gate carried into segmentation: a classifier's backbone and gate, loaded into the
segmentor of configs/msvit/msvit-t-from-cls_..., decide and compute as in the classifier."""
import os.path as osp

import pytest
import torch

pytest.importorskip('mmpretrain.models')

from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmseg.registry import MODELS as SEG_MODELS  # noqa: E402

import msvit_mm.classification  # noqa: E402,F401
from tests.helpers import ROOT  # noqa: E402

CLS_CONFIG = osp.join(ROOT, 'configs/msvit_cls/msvit-t_1xb32-150_objects-128px.py')
SEG_CONFIG = osp.join(ROOT, 'configs/msvit/msvit-t-from-cls_upernet_1xb8-300_synthetic-ade20k-128x128.py')


def _classifier(out_type: str):
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(CLS_CONFIG)
    cfg.model.backbone.out_type = out_type
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg.model)


def test_the_config_starts_from_the_demos_stage2_classifier():
    seg, cls = Config.fromfile(SEG_CONFIG), Config.fromfile(CLS_CONFIG)
    assert seg.model.pretrained == f'work_dirs/demo_cls/iter_{cls.train_cfg.max_iters}.pth'
    for key in ('embed_dims', 'num_layers', 'num_heads', 'patch_size', 'coarse_patch_size'):
        assert seg.model.backbone[key] == cls.model.backbone[key], key


def test_classifier_backbone_and_gate_load_into_the_segmentor(tmp_path):
    torch.manual_seed(0)
    clf = _classifier('featmap')
    clf.init_weights()
    for p in clf.backbone.tokenizer.gate.parameters():  # a gate whose choices vary by image
        p.data.normal_(0, 0.05)
    path = str(tmp_path / 'classifier.pth')
    torch.save(dict(meta=dict(), state_dict=clf.state_dict()), path)  # as the Runner saves

    def segmentor(pretrained):
        cfg = Config.fromfile(SEG_CONFIG)  # a new one each time: mmseg writes into it
        cfg.model.pretrained = pretrained
        model = SEG_MODELS.build(cfg.model)
        model.init_weights()
        return model

    seg, fresh = segmentor(path), segmentor(None)
    # every segmentation backbone weight is the classifier's (the gate included); its head
    # and gate-loss priors are not carried
    source = clf.backbone.state_dict()
    target = seg.backbone.state_dict()
    assert set(target) <= set(source) and any(k.startswith('tokenizer.gate.') for k in target)
    for key, value in target.items():
        torch.testing.assert_close(value, source[key], rtol=0, atol=0, msg=key)

    clf.eval(), seg.eval(), fresh.eval()
    x = torch.randn(3, 3, 128, 128)
    with torch.no_grad():
        cls_maps, cls_aux = clf.backbone.forward_with_aux(x)
        seg_maps, seg_aux = seg.backbone.forward_with_aux(x)
        _, fresh_aux = fresh.backbone.forward_with_aux(x)
    # the same decisions and token counts per image, not those of a fresh gate
    assert torch.equal(cls_aux['coarse_mask'], seg_aux['coarse_mask'])
    assert torch.equal(cls_aux['tokens_per_image'], seg_aux['tokens_per_image'])
    assert 0 < seg_aux['coarse_mask'].float().mean() < 1
    torch.testing.assert_close(seg_aux['gate_probs'], cls_aux['gate_probs'])
    assert not torch.allclose(fresh_aux['gate_probs'], cls_aux['gate_probs'])
    # and the same last-layer features (final norm on both)
    last = cls_maps[-1]
    torch.testing.assert_close(seg_maps[-1], last, atol=1e-5 * float(last.abs().max()),
                               rtol=1e-5)
