"""Pictures of the gate's decisions: fine regions tinted and gridded, coarse ones outlined."""
from typing import Optional, Sequence

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


def caption_strip(width: int, lines: Sequence[str], line_height: int = 16) -> np.ndarray:
    """[len(lines) * line_height + 4, width, 3] uint8: black text lines on white."""
    import cv2
    strip = np.full((len(lines) * line_height + 4, width, 3), 255, np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(strip, text, (3, (i + 1) * line_height - 3), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def classifier_picture(model, batch: dict, class_names: Sequence[str],
                       true_class: Optional[str] = None) -> np.ndarray:
    """The image with the gate's layout, captioned with the prediction, for one sample.

    Args:
        model: an MSViT classifier (``MSViTImageClassifier``) in eval mode.
        batch: ``dict(inputs=[1, 3, H, W], data_samples=[DataSample])`` as the model's data
            preprocessor gives it (mmpretrain's ``PackInputs``: the sample's ``img_path``).
        class_names: the classes, by index.
        true_class: the image's class if known (its folder name), shown beside the prediction.

    Returns:
        uint8 RGB: the image as the network saw it (after the test pipeline's resize and
        crop), layout drawn, and under it (widened for it if needed) a caption (predicted class and score, true class, coarse
        ratio and tokens).
    """
    import torch

    inputs = batch['inputs']
    with torch.no_grad():
        _, aux = model.backbone.forward_with_aux(inputs)
        pred = model.predict(inputs, batch['data_samples'])[0]
    seen = denormalized(model, inputs[0])
    tokenizer = model.backbone.tokenizer
    layout = draw_gate(seen, aux['coarse_mask'][0].cpu().numpy(),
                       tokenizer.coarse_patch_size, tokenizer.patch_size)
    label = int(pred.pred_label)
    name = class_names[label] if label < len(class_names) else str(label)
    lines = [f'pred: {name} ({float(pred.pred_score[label]):.2f})']
    if true_class is not None:
        lines.append(f'true: {true_class}')
    lines.append(f"coarse {float(aux['coarse_ratio'][0]):.2f}, "
                 f"{int(aux['tokens_per_image'][0])} tokens")
    width = max(layout.shape[1], 7 * max(len(t) for t in lines))  # room for the caption
    top = np.full((layout.shape[0], width, 3), 255, np.uint8)
    top[:, :layout.shape[1]] = layout
    return np.concatenate([top, caption_strip(width, lines)], axis=0)


def denormalized(model, x) -> np.ndarray:
    """A preprocessed [3, H, W] input back to [H, W, 3] uint8 RGB with the data
    preprocessor's ``mean``/``std`` (the preprocessor has made it RGB)."""
    pre = model.data_preprocessor
    mean = getattr(pre, 'mean', None)
    std = getattr(pre, 'std', None)
    img = x.detach().float().cpu()
    if mean is not None and std is not None:
        img = img * std.cpu().view(-1, 1, 1) + mean.cpu().view(-1, 1, 1)
    return np.ascontiguousarray(img.permute(1, 2, 0).clamp(0, 255).byte().numpy())
