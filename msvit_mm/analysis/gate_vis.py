"""Pictures of the gate's decisions: fine regions tinted and gridded, coarse ones outlined."""
from typing import Sequence

import numpy as np


def draw_gate(image: np.ndarray, coarse_mask: np.ndarray, coarse_size: int = 32,
              fine_size: int = 16, tint: Sequence[int] = (255, 64, 64),
              alpha: float = 0.35) -> np.ndarray:
    """Draw the mixed-scale token layout over an image.

    Args:
        image: [H, W, 3] uint8 RGB.
        coarse_mask: [Hc, Wc] bool, True where the region is one coarse token
            (Hc = ceil(H / coarse_size)).
        coarse_size, fine_size: region and patch sizes in pixels.
        tint: RGB colour blended over fine regions; their 16 px grid is drawn in it too.
        alpha: blend weight of the tint.

    Returns:
        [H, W, 3] uint8: coarse regions outlined in white, fine regions tinted with their
        ``fine_size`` grid drawn.
    """
    h, w = image.shape[:2]
    out = image.astype(np.float32).copy()
    fine = ~np.asarray(coarse_mask, dtype=bool)
    fine_px = np.kron(fine, np.ones((coarse_size, coarse_size), dtype=bool))[:h, :w]
    color = np.asarray(tint, dtype=np.float32)
    out[fine_px] = (1 - alpha) * out[fine_px] + alpha * color
    rows = np.arange(h)[:, None]
    cols = np.arange(w)[None, :]
    fine_lines = ((rows % fine_size == 0) | (cols % fine_size == 0)) & fine_px
    coarse_lines = (rows % coarse_size == 0) | (cols % coarse_size == 0) | \
        (rows == h - 1) | (cols == w - 1)
    out[fine_lines] = color
    out[coarse_lines & ~fine_px] = 255.
    return out.clip(0, 255).astype(np.uint8)


def hstack_with_gap(images: Sequence[np.ndarray], gap: int = 4) -> np.ndarray:
    """Place [H, W_i, 3] uint8 images side by side with white gaps (heights padded)."""
    h = max(im.shape[0] for im in images)
    parts = []
    for i, im in enumerate(images):
        pad = np.full((h, im.shape[1], 3), 255, np.uint8)
        pad[:im.shape[0]] = im
        parts.append(pad)
        if i < len(images) - 1:
            parts.append(np.full((h, gap, 3), 255, np.uint8))
    return np.concatenate(parts, axis=1)


def gate_picture(model, batch: dict, palette: Sequence[Sequence[int]],
                 coarse_size: int) -> np.ndarray:
    """[image with the gate's layout | ground truth | prediction] for one preprocessed sample.

    Args:
        model: an MSViT segmentor in eval mode.
        batch: ``dict(inputs=[1, 3, H, W], data_samples=[SegDataSample])`` from
            :func:`msvit_mm.analysis.loading.preprocessed`.
        palette: class colours (``dataset.metainfo['palette']``).
        coarse_size: the backbone's ``coarse_patch_size``.
    """
    import cv2
    import torch

    sample = batch['data_samples'][0]
    with torch.no_grad():
        _, aux = model.backbone.forward_with_aux(batch['inputs'])
        pred = model.predict(batch['inputs'], batch['data_samples'])[0]
    image = cv2.imread(sample.img_path)[..., ::-1]  # RGB, the file as it is on disk
    h, w = image.shape[:2]
    colors = np.asarray(palette, dtype=np.uint8)

    def paint(seg) -> np.ndarray:
        seg = seg.data[0].cpu().numpy()[:h, :w]
        out = np.zeros((h, w, 3), np.uint8)  # ignore (255) stays black
        valid = seg < len(colors)
        out[valid] = colors[seg[valid]]
        return out

    mask = aux['coarse_mask'][0].cpu().numpy()
    return hstack_with_gap([draw_gate(image, mask, coarse_size, model.backbone.patch_size),
                            paint(sample.gt_sem_seg), paint(pred.pred_sem_seg)])
