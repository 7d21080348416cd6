"""Loading transforms that fail loudly, naming the file, on bad input.

Drop-in replacements for the first two steps of every mmseg pipeline::

    dict(type='CheckedLoadImageFromFile'),                  # was LoadImageFromFile
    dict(type='CheckedLoadAnnotations', num_classes=150),   # was LoadAnnotations

What the stock transforms do on bad files (mmcv 2.1.0, mmseg 1.2.2, measured):

- image, cv2 backend (the default): a corrupted or truncated file decodes to ``None`` and trips
  ``assert img is not None`` (gone under ``python -O``); an empty file raises cv2's
  ``!buf.empty()`` without the name. Pillow backend: ``OSError: image file is truncated`` or
  ``cannot identify image file <_io.BytesIO ...>``, no file name either.
- label (pillow backend, the default): same pillow errors without the name; cv2 backend:
  ``'NoneType' object has no attribute 'squeeze'``. Decoded labels are cast to uint8, so a
  16-bit png silently wraps values above 255; a 3-channel (colour) label passes through as
  [H, W, 3]; values outside the classes (e.g. 200 in an ADE20K file) are trained on.

These subclasses wrap the stock code (same arguments, same outputs on good files) and raise
``FileNotFoundError``/``OSError`` naming the file for unreadable files and ``ValueError`` naming
the file and the values for label content mmseg would silently mis-train on.
Not caught with the cv2 backend: corruption inside the JPEG entropy data, which libjpeg decodes
with a warning into wrong pixels; ``imdecode_backend='pillow'`` raises on it.
"""
import os.path as osp
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

__all__ = ['CheckedLoadImageFromFile', 'CheckedLoadAnnotations']


def _read_error(kind: str, path: str, err: BaseException) -> OSError:
    """An ``OSError`` (``FileNotFoundError`` for a missing file) that names ``path``."""
    if isinstance(err, FileNotFoundError):
        return FileNotFoundError(f'{kind} file not found: {path!r}')
    reason = f'{type(err).__name__}: {err}' if str(err) else type(err).__name__
    return OSError(f'cannot read {kind} file {path!r} ({reason}); the file is empty, '
                   'truncated, corrupted or not an image')


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` that raises an error naming the file when it cannot be read.

    Arguments as mmcv's ``LoadImageFromFile``. With ``ignore_empty=True`` an unreadable image
    returns ``None`` (mmengine's dataset then draws another sample), as upstream does.

    Raises:
        FileNotFoundError: the file does not exist.
        OSError: the file exists but does not decode (empty, truncated, corrupted).
    """

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            out = super().transform(results)
        except Exception as err:  # includes upstream's `assert img is not None`
            if self.ignore_empty:
                return None
            raise _read_error('image', path, err) from err
        return out


@TRANSFORMS.register_module()
class CheckedLoadAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` that checks the label map it loads.

    Args:
        num_classes: valid labels after ``reduce_zero_label``/``label_map`` are
            ``0 .. num_classes - 1`` and ``ignore_index`` (150 for ADE20K: raw ids 0..150,
            0 becoming ``ignore_index``).
        ignore_index: the ignore label (mmseg's 255).
        check_shape: also require the label's [H, W] to equal the image's (``ori_shape``, when
            an image loader ran first).
        reduce_zero_label, backend_args, imdecode_backend: as mmseg's ``LoadAnnotations``.

    Raises (from ``transform``):
        FileNotFoundError, OSError: the label file is missing or does not decode.
        ValueError: naming the file, for a label that is not single-channel, a 16-bit png with
            values above 255, values outside the classes, or a size other than the image's.
    """

    def __init__(self, num_classes: int = 150, ignore_index: int = 255,
                 check_shape: bool = True, reduce_zero_label: Optional[bool] = None,
                 backend_args: Optional[dict] = None,
                 imdecode_backend: str = 'pillow') -> None:
        super().__init__(reduce_zero_label=reduce_zero_label, backend_args=backend_args,
                         imdecode_backend=imdecode_backend)
        if not 0 < num_classes <= 255:
            raise ValueError(f'num_classes must be in 1..255 for uint8 labels, got {num_classes}')
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.check_shape = check_shape

    def _load_seg_map(self, results: dict) -> None:
        path = results.get('seg_map_path')
        if path is None:  # inference (mmseg's apis, MMSegInferencer): no label to load
            return
        try:
            seg = self._decode(path)
        except Exception as err:
            raise _read_error('label', path, err) from err
        if seg.ndim != 2:
            raise ValueError(
                f'label file {path!r} decodes to shape {seg.shape}; a label map must be '
                'single-channel [H, W] class ids (a colour-coded label needs converting)')
        self._check_bit_depth(path)
        seg = self._relabel(seg.astype(np.uint8), results)
        results['gt_seg_map'] = seg
        results['seg_fields'].append('gt_seg_map')
        self._check_values(seg, path, results)
        if self.check_shape and 'ori_shape' in results:
            if tuple(seg.shape) != tuple(results['ori_shape'][:2]):
                raise ValueError(
                    f'label file {path!r} is {seg.shape[0]}x{seg.shape[1]} but its image '
                    f"{results.get('img_path')!r} is "
                    f"{results['ori_shape'][0]}x{results['ori_shape'][1]}")

    def _decode(self, path: str) -> np.ndarray:
        """The label file as [H, W] (or [H, W, C>1] for a colour file).

        Upstream calls ``squeeze()``, which also drops a side of 1 (a 1-pixel-high label
        becomes 1-D, a 1x1 one 0-D and then fails); only a channel axis of 1 is dropped here.
        """
        raw = mmcv.imfrombytes(fileio.get(path, backend_args=self.backend_args),
                               flag='unchanged', backend=self.imdecode_backend)
        if raw is None:
            raise OSError('the decoder returned nothing')
        return raw[..., 0] if raw.ndim == 3 and raw.shape[2] == 1 else raw

    def _relabel(self, seg: np.ndarray, results: dict) -> np.ndarray:
        """mmseg 1.2.2's ``LoadAnnotations._load_seg_map`` after decoding, unchanged:
        ``reduce_zero_label`` (0 -> 255, others - 1) and the dataset's ``label_map``."""
        if self.reduce_zero_label is None:
            self.reduce_zero_label = results['reduce_zero_label']
        assert self.reduce_zero_label == results['reduce_zero_label'], \
            'Initialize dataset with `reduce_zero_label` as ' \
            f'{results["reduce_zero_label"]} but when load annotation ' \
            f'the `reduce_zero_label` is {self.reduce_zero_label}'
        if self.reduce_zero_label:
            seg[seg == 0] = 255
            seg = seg - 1
            seg[seg == 254] = 255
        if results.get('label_map', None) is not None:
            original = seg.copy()
            for old_id, new_id in results['label_map'].items():
                seg[original == old_id] = new_id
        return seg

    def _check_values(self, seg: np.ndarray, path: str, results: dict) -> None:
        """Raise if ``seg`` holds values other than 0..num_classes-1 and ignore_index."""
        values = np.unique(seg)
        bad = values[(values >= self.num_classes) & (values != self.ignore_index)]
        if bad.size == 0:
            return
        msg = (f'label file {path!r} holds values outside the {self.num_classes} classes: '
               f'{bad.tolist()} (allowed: 0..{self.num_classes - 1} and ignore '
               f'{self.ignore_index}')
        if self.reduce_zero_label and results.get('label_map') is None:
            msg += (f', after reduce_zero_label; raw values in the file: '
                    f'{(bad.astype(np.int64) + 1).tolist()}, allowed raw 0..{self.num_classes})')
        elif self.reduce_zero_label or results.get('label_map') is not None:
            msg += ', after reduce_zero_label/label_map)'
        else:
            msg += ')'
        raise ValueError(msg + '. Fix the file or set num_classes to the dataset\'s classes.')

    def _check_bit_depth(self, path: str) -> None:
        """Raise if ``path`` is a >8-bit png whose values upstream's uint8 cast would wrap."""
        if not path.lower().endswith('.png') or not osp.isfile(path):
            return  # other formats and remote backends: left to the value check
        with open(path, 'rb') as f:
            head = f.read(26)
        if len(head) < 26 or head[24] <= 8:  # IHDR bit depth, per channel
            return
        raw = mmcv.imfrombytes(fileio.get(path, backend_args=self.backend_args),
                               flag='unchanged', backend=self.imdecode_backend)
        if raw is not None and raw.max() > 255:
            big = np.unique(raw[raw > 255])
            raise ValueError(
                f'label file {path!r} is a {head[24]}-bit png with values above 255 '
                f'({big[:10].tolist()}{" ..." if big.size > 10 else ""}); mmseg casts labels '
                'to uint8, which would wrap them. Write 8-bit labels.')

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] + f', num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index}, check_shape={self.check_shape})')
