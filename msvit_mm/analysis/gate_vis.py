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


def paint_labels(seg: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """[H, W] class ids -> [H, W, 3] uint8 RGB; ignore (and unknown ids) black."""
    out = np.zeros(seg.shape + (3,), np.uint8)
    valid = seg < len(palette)
    out[valid] = palette[seg[valid]]
    return out


def gate_picture(model, batch: dict, palette: Sequence[Sequence[int]],
                 with_label: bool = True) -> np.ndarray:
    """[image with the gate's layout | ground truth | prediction] for one preprocessed sample.

    Args:
        model: an MSViT segmentor in eval mode.
        batch: ``dict(inputs=[1, 3, H, W], data_samples=[SegDataSample])`` as the model's data
            preprocessor gives it; the sample's ``img_path`` is read for the picture.
        palette: class colours (``dataset.metainfo['palette']``).
        with_label: include the ground-truth panel (the sample must hold ``gt_sem_seg``).

    Returns:
        uint8 RGB at the image file's own size. The layout is drawn at the size the network
        saw and resized back, so a test pipeline that resizes still lines up.
    """
    import cv2
    import torch

    sample = batch['data_samples'][0]
    with torch.no_grad():
        _, aux = model.backbone.forward_with_aux(batch['inputs'])
        pred = model.predict(batch['inputs'], batch['data_samples'])[0]
    image = cv2.imread(sample.img_path, cv2.IMREAD_COLOR)[..., ::-1]  # RGB, as on disk
    h, w = image.shape[:2]
    in_h, in_w = sample.img_shape[:2]  # what the network saw
    resized = (in_h, in_w) != (h, w)
    seen = cv2.resize(image, (in_w, in_h), interpolation=cv2.INTER_AREA) if resized else image
    tokenizer = model.backbone.tokenizer
    layout = draw_gate(np.ascontiguousarray(seen), aux['coarse_mask'][0].cpu().numpy(),
                       tokenizer.coarse_patch_size, tokenizer.patch_size)
    if resized:
        layout = cv2.resize(layout, (w, h), interpolation=cv2.INTER_NEAREST)
    colors = np.asarray(palette, dtype=np.uint8)
    panels = [layout]
    if with_label:
        panels.append(paint_labels(pred.gt_sem_seg.data[0].cpu().numpy()[:h, :w], colors))
    panels.append(paint_labels(pred.pred_sem_seg.data[0].cpu().numpy()[:h, :w], colors))
    return hstack_with_gap(panels)
