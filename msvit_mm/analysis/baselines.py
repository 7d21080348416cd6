"""Reference figures computed from the labels alone."""
from typing import Dict

import numpy as np


def majority_class_miou(dataset, ignore_index: int = 255) -> Dict[str, float]:
    """mIoU of predicting the most frequent class everywhere, as mmseg's IoUMetric sums it.

    Intersections and unions are summed over the whole set; classes absent from the labels
    are left out of the mean (mmseg reports them as NaN). Reads ``gt_sem_seg`` of every
    sample of an mmseg dataset (after its pipeline, so after ``reduce_zero_label``).

    Returns:
        ``dict(miou, majority_class, majority_share, num_classes_present)``.
    """
    counts: Dict[int, int] = {}
    for i in range(len(dataset)):
        seg = dataset[i]['data_samples'].gt_sem_seg.data.numpy()
        values, n = np.unique(seg[seg != ignore_index], return_counts=True)
        for v, c in zip(values.tolist(), n.tolist()):
            counts[v] = counts.get(v, 0) + c
    if not counts:
        raise ValueError('no labelled pixel in the dataset')
    total = sum(counts.values())
    majority = max(counts, key=counts.get)
    share = counts[majority] / total  # IoU of the majority class: |gt=m| / |all labelled|
    return dict(miou=share / len(counts), majority_class=majority, majority_share=share,
                num_classes_present=len(counts))
