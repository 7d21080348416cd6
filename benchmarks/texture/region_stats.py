"""How well the training-free rules rank a scene's regions like label uniformity does.

For every image: its 32x32 regions scored by low grey-level entropy (32 bins) and low pixel
std on the ImageNet-normalized pixels (as ``msvit_mm.analysis.gate_quality`` scores them),
and by label uniformity (share of the region's labelled pixels in its main class); the
within-image rank correlation of each rule with uniformity is scipy's tie-averaged
``spearmanr`` (NaN for an image where one side is constant, left out of the mean).
"""
import glob
import os.path as osp
from typing import Dict, Iterable, Tuple

import numpy as np

from msvit_mm.analysis.stats import spearman

MEAN = (123.675, 116.28, 103.53)  # mmseg's data preprocessor (RGB)
STD = (58.395, 57.12, 57.375)
REGION = 32
NUM_CLASSES = 150




def region_scores(image: np.ndarray, label: np.ndarray) -> Dict[str, np.ndarray]:
    """Per-region ``entropy``, ``std`` and ``uniformity`` [Hc, Wc] of one scene.

    Args:
        image: [H, W, 3] uint8 RGB, sides multiples of 32.
        label: [H, W] uint8 ADE20K ids (0 = ignored).
    """
    import torch

    from msvit_mm.ops.region_scores import label_uniformity, region_entropy, region_std

    x = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None]
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    raw = torch.from_numpy(label.astype(np.int64))
    lab = torch.where(raw == 0, 255, raw - 1)[None]  # reduce_zero_label
    return dict(entropy=region_entropy(x, REGION)[0].numpy(),
                std=region_std(x, REGION)[0].numpy(),
                uniformity=label_uniformity(lab, REGION, NUM_CLASSES)[0].numpy())


def rule_agreement(scenes: Iterable[Tuple[np.ndarray, np.ndarray]]) -> Dict[str, float]:
    """Mean within-image Spearman of low entropy / low std with label uniformity.

    Returns:
        ``spearman_low_entropy``, ``spearman_low_std`` (NaN-safe means over the images),
        ``images_counted_entropy`` / ``images_counted_std`` (images with a defined value),
        ``uniform_share`` (mean share of one-class regions) and ``num_images``.
    """
    ent, std, share = [], [], []
    for image, label in scenes:
        s = region_scores(image, label)
        ent.append(spearman(-s['entropy'], s['uniformity']))
        std.append(spearman(-s['std'], s['uniformity']))
        share.append(float((s['uniformity'] >= 1.0).mean()))
    if not share:
        raise ValueError('no scenes to measure')
    return dict(spearman_low_entropy=float(np.nanmean(ent)),
                spearman_low_std=float(np.nanmean(std)),
                images_counted_entropy=int(np.isfinite(ent).sum()),
                images_counted_std=int(np.isfinite(std).sum()),
                uniform_share=float(np.mean(share)), num_images=len(share))


def read_split(data_root: str, split: str = 'validation'):
    """Yield (image RGB, label) of ``{data_root}/{images,annotations}/{split}`` in name order."""
    import cv2

    paths = sorted(glob.glob(osp.join(data_root, 'annotations', split, '*.png')))
    if not paths:
        raise FileNotFoundError(f'no label files under {data_root}/annotations/{split}')
    for path in paths:
        stem = osp.splitext(osp.basename(path))[0]
        img_path = osp.join(data_root, 'images', split, stem + '.jpg')
        bgr = cv2.imread(img_path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f'{img_path} (the image of {path}) is missing or unreadable')
        yield bgr[..., ::-1], cv2.imread(path, cv2.IMREAD_UNCHANGED)
