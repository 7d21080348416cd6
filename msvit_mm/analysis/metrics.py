"""The one mIoU reduction: summed areas per class -> aAcc, mIoU, mAcc (as mmseg's IoUMetric)."""
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ['area_metrics', 'sample_areas']


def sample_areas(preds: list, data_samples: list, num_classes: int,
                 ignore_index: int = 255) -> list:
    """``[intersect, union, pred, label]`` areas [num_classes] summed over a batch.

    ``preds``: data samples with ``pred_sem_seg`` (``model.predict``'s output);
    ``data_samples``: the same images with ``gt_sem_seg``.
    """
    from mmseg.evaluation import IoUMetric

    per_image = [IoUMetric.intersect_and_union(p.pred_sem_seg.data.squeeze(0).cpu(),
                                               s.gt_sem_seg.data.squeeze(0).cpu(), num_classes,
                                               ignore_index)
                 for p, s in zip(preds, data_samples)]
    return [sum(parts) for parts in zip(*per_image)]


def area_metrics(areas: Sequence[Tensor], nan_to_num: Optional[float] = None
                 ) -> Dict[str, float]:
    """``aAcc``, ``mIoU``, ``mAcc`` in percent from summed ``[intersect, union, pred, label]``.

    As ``IoUMetric.total_area_to_metrics`` followed by the mean over classes: a class with
    no union (absent from labels and predictions) is NaN and left out of the means, or
    counts as ``nan_to_num`` when that is given. Computed in float64, not rounded.
    """
    inter, union, _, label = (torch.as_tensor(a).double() for a in areas)
    iou, acc = (inter / union).numpy(), (inter / label).numpy()
    if nan_to_num is not None:
        iou, acc = np.nan_to_num(iou, nan=nan_to_num), np.nan_to_num(acc, nan=nan_to_num)
    return dict(aAcc=float(inter.sum() / label.sum() * 100), mIoU=float(np.nanmean(iou) * 100),
                mAcc=float(np.nanmean(acc) * 100))
