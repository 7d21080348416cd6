"""The classification quick start's code path (tools/demo_cls.py) with tiny sizes, and the
classification gate-quality helpers it uses."""
import json
import os.path as osp

import pytest
import torch

pytest.importorskip('mmpretrain.models')

from msvit_mm.analysis.cls_gate_quality import object_scores  # noqa: E402
from tests.helpers import ROOT, load_module  # noqa: E402


def test_object_scores_rank_the_emptiest_regions_first():
    masks = torch.zeros(2, 64, 96, dtype=torch.bool)  # 2 x 3 regions of 32 px
    masks[0, :32, :32] = True        # region (0, 0) all object
    masks[0, 32:48, 32:64] = True    # region (1, 1) half object
    masks[1, :, 64:80] = True        # the last column half object in both rows
    scores = object_scores(masks, 32)
    assert scores.shape == (2, 2, 3)
    torch.testing.assert_close(scores[0], -torch.tensor([[1.0, 0, 0], [0, 0.5, 0]]))
    torch.testing.assert_close(scores[1], -torch.tensor([[0, 0, 0.5], [0, 0, 0.5]]))
    # a side that is not a multiple of the region: padded as background
    assert object_scores(masks[:, :40], 32).shape == (2, 2, 3)


def test_demo_code_path_tiny(tmp_path, capsys):
    demo = load_module(osp.join(ROOT, 'tools', 'demo_cls.py'), 'demo_cls_tiny')
    work = str(tmp_path / 'work')
    summary = demo.main([
        '--work-dir', work, '--data-root', str(tmp_path / 'objects'), '--num-train', '20',
        '--num-val', '10', '--fine-iters', '2', '--iters', '2', '--cfg-options',
        'train_dataloader.batch_size=4', 'model.backbone.num_layers=1'])
    out = capsys.readouterr().out
    assert 'MSViT classification demo on the embedded object set (10 validation images, ' \
        '2 + 2 iterations' in out
    with open(osp.join(work, 'demo_cls_summary.json')) as f:
        assert json.load(f) == summary
    assert osp.isfile(osp.join(work, 'stage1_vit16', 'iter_2.pth'))
    assert summary['val_images'] == 10 and summary['tokens_vit16'] == 64  # 128 px / 16
    own, half = summary['gate_quality']
    assert own['budget'] == 'own' and half['budget'] == '0.5' and half['coarse_ratio'] == 0.5
    # the gate's own decisions: the same images, so the same share of coarse regions as the
    # FLOP count and the same accuracy as mmpretrain's test loop (Accuracy metric)
    assert own['coarse_ratio'] == pytest.approx(summary['coarse_ratio'], abs=1e-9)
    assert own['learned'] == pytest.approx(summary['top1'], abs=1e-6)
    # a coarse region is 1 token instead of 4
    assert summary['tokens_per_image'] == pytest.approx(64 * (1 - 0.75 * own['coarse_ratio']))
    assert summary['gmacs_min'] <= summary['gmacs_mean'] <= summary['gmacs_max']
    for row in (own, half):
        assert set(row) >= {'learned', 'random', 'random_min', 'random_max', 'std', 'entropy',
                            'object'}
        assert all(0 <= row[k] <= 100 for k in row if k not in ('budget', 'coarse_ratio'))
        assert row['random_min'] <= row['random'] <= row['random_max']
    # stage 2 again from the stage-1 checkpoint: stage 1 is not retrained, same ViT/16
    again = demo.main([
        '--work-dir', str(tmp_path / 'again'), '--data-root', str(tmp_path / 'objects'),
        '--num-train', '20', '--num-val', '10', '--fine-iters', '2', '--iters', '1',
        '--fine-checkpoint', osp.join(work, 'stage1_vit16', 'iter_2.pth'), '--cfg-options',
        'train_dataloader.batch_size=4', 'model.backbone.num_layers=1'])
    assert again['top1_vit16'] == summary['top1_vit16'] and again['iters'] == 1
    assert not osp.exists(osp.join(str(tmp_path / 'again'), 'stage1_vit16', 'iter_2.pth'))
