"""The package's one markdown writer, one mIoU reduction and one batch iterator."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.evaluation import IoUMetric
from mmseg.structures import SegDataSample

from msvit_mm.analysis.loading import preprocessed
from msvit_mm.analysis.markdown import markdown_table
from msvit_mm.analysis.metrics import area_metrics, sample_areas


def test_markdown_table_lines_and_alignment():
    text = markdown_table(['a', 'b'], [[1, 'x'], ['2', 'y']], right=[False, True])
    assert text == '| a | b |\n| --- | ---: |\n| 1 | x |\n| 2 | y |'
    with pytest.raises(ValueError, match='row 1 has 1 cells for 2 columns'):
        markdown_table(['a', 'b'], [[1, 2], [3]])


def _sample(gt: torch.Tensor, pred: torch.Tensor = None) -> SegDataSample:
    s = SegDataSample()
    s.gt_sem_seg = PixelData(data=gt[None])
    if pred is not None:
        s.pred_sem_seg = PixelData(data=pred[None])
    return s


def test_area_metrics_equal_mmseg_iou_metric():
    gen = torch.Generator().manual_seed(0)
    num_classes, metric = 6, IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=[str(i) for i in range(num_classes)])
    preds, gts = [], []
    for _ in range(5):
        gt = torch.randint(0, num_classes - 1, (12, 10), generator=gen)  # class 5 never
        gt[0, :3] = 255  # ignored
        pred = torch.where(torch.rand(12, 10, generator=gen) < 0.7, gt.clamp(max=4),
                           torch.randint(0, num_classes, (12, 10), generator=gen))
        preds.append(_sample(gt, pred))
        gts.append(_sample(gt))
        metric.process({}, [dict(pred_sem_seg=dict(data=pred[None]),
                                 gt_sem_seg=dict(data=gt[None]))])
    ref = metric.compute_metrics(metric.results)
    got = area_metrics(sample_areas(preds, gts, num_classes))
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert got[key] == pytest.approx(ref[key], abs=0.006)  # mmseg rounds to 2 decimals
    # the class predicted but never labelled counts with IoU 0, the absent one not at all
    inter, union, _, _ = sample_areas(preds, gts, num_classes)
    iou = (inter / union).numpy()
    assert got['mIoU'] == pytest.approx(100 * np.nanmean(iou), rel=1e-12)


class _Preprocessor(torch.nn.Module):
    def forward(self, data, training=False):
        assert len({tuple(x.shape) for x in data['inputs']}) == 1  # one size per batch
        return dict(inputs=torch.stack(data['inputs']), data_samples=data['data_samples'])


class _Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.data_preprocessor = _Preprocessor()


def test_preprocessed_batches_hold_one_size_and_keep_every_image():
    sizes = [(4, 4), (4, 4), (6, 4), (4, 4), (6, 4), (4, 4), (4, 4)]
    dataset = [dict(inputs=torch.full((3, *hw), float(i)), data_samples=i)
               for i, hw in enumerate(sizes)]
    batches = list(preprocessed(_Model(), dataset, 7, batch_size=2))
    assert [b['data_samples'] for b in batches] == [[0, 1], [2, 4], [3, 5], [6]]
    assert [b['data_samples'] for b in preprocessed(_Model(), dataset, 3)] == [[0], [1], [2]]
    with pytest.raises(ValueError, match='batch_size=0'):
        list(preprocessed(_Model(), dataset, 3, batch_size=0))
