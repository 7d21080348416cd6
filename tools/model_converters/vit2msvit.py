"""Convert a pretrained ViT (timm/DeiT, mmseg or mmpretrain) to MSViT's weight names.

    python tools/model_converters/vit2msvit.py SRC DST [--img-size H [W]] [--patch-size 16]

Like mmseg's ``vit2mmseg.py``, plus: mmseg / mmpretrain sources, layer scales folded,
``pos_embed`` resized (bicubic) to the ``--img-size`` grid, classifier heads and
distillation tokens dropped with a line in the report. The output is
``{'state_dict': ..., 'meta': {'pos_embed_grid': [h, w], ...}}`` (tensors and plain values
only: it loads with ``torch.load(weights_only=True)``), written atomically (a failure
leaves no file; a kill leaves none either, but for a short final write whose temp file the
next run replaces). The source is read tensors-only too
(``msvit_mm.engine.checkpoints``). MSViT also loads the unconverted checkpoints directly.
"""
import argparse
import io
import os
import os.path as osp
import pickle
import sys
from typing import List, Optional

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import torch  # noqa: E402

from msvit_mm.models.backbones.pretrained import convert_checkpoint, read_checkpoint  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='source checkpoint path or URL')
    parser.add_argument('dst', help='output checkpoint path')
    parser.add_argument('--img-size', type=int, nargs='+', default=None,
                        help='training image size H [W]: pos_embed is resized to its grid '
                             '(default: keep the source grid)')
    parser.add_argument('--patch-size', type=int, default=16, help='patch size of the model')
    parser.add_argument('--source-grid', type=int, nargs=2, default=None, metavar=('H', 'W'),
                        help='position grid of the source when it is not square')
    parser.add_argument('--interpolate-mode', default='bicubic')
    args = parser.parse_args(argv)
    if args.patch_size <= 0:
        parser.error(f'--patch-size must be positive, got {args.patch_size}')
    if args.img_size is not None:
        if len(args.img_size) > 2:
            parser.error(f'--img-size takes H or H W, got {len(args.img_size)} values '
                         f'{args.img_size}')
        if min(args.img_size) < args.patch_size:
            parser.error(f'--img-size {args.img_size}: each side must be at least the patch '
                         f'size {args.patch_size} (one position per patch)')
    if args.source_grid is not None and min(args.source_grid) <= 0:
        parser.error(f'--source-grid must be positive, got {args.source_grid}')
    return args


def check_output(dst: str, src: Optional[str] = None) -> None:
    """Refuse an output path that is a directory, or that is the source file itself (the
    converter would replace a checkpoint it did not write), before any work is done."""
    if osp.isdir(dst):
        raise IsADirectoryError(f'the output path {dst!r} is a directory; give a file name, '
                                f'e.g. {osp.join(dst, "msvit.pth")}')
    if src is None or '://' in src:
        return
    same = osp.abspath(osp.expanduser(src)) == osp.abspath(osp.expanduser(dst)) or (
        osp.exists(src) and osp.exists(dst) and osp.samefile(src, dst))
    if same:
        raise ValueError(f'the output {dst!r} is the source checkpoint {src!r}: the converter '
                         'never overwrites its input; give another output path')


def save_atomic(obj: dict, dst: str) -> None:
    """``torch.save`` so that ``dst`` is either complete or untouched, with no temp file left.

    The checkpoint is serialized in memory first (the slow part: a kill, even SIGKILL, leaves
    nothing on disk), then written to ``.DST.tmp`` beside ``dst`` and renamed onto it. The temp
    name is fixed, so the next run replaces what a kill during that short write left. The file
    gets the usual mode (0666 less the umask).
    """
    check_output(dst)
    folder = osp.dirname(osp.abspath(dst))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(dst)}.tmp')
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    try:
        with open(tmp, 'wb') as f:
            f.write(buffer.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException:
        if osp.lexists(tmp):
            os.remove(tmp)
        raise


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    check_output(args.dst, args.src)
    grid = None
    if args.img_size:
        h, w = (args.img_size * 2)[:2]
        grid = (h // args.patch_size, w // args.patch_size)
    state, report, out_grid = convert_checkpoint(
        read_checkpoint(args.src), args.src, grid, args.source_grid, args.interpolate_mode)
    proj = state.get('patch_embed.projection.weight')
    if proj is not None and tuple(proj.shape[-2:]) != (args.patch_size, args.patch_size):
        raise ValueError(f'{args.src}: its patch embedding is {tuple(proj.shape[-2:])}, '
                         f'not --patch-size {args.patch_size}')
    report.loaded = [k for k in state if k not in report.converted and k not in report.resized]
    meta = dict(converted_from=args.src, source_format=report.format,
                pos_embed_grid=list(out_grid) if out_grid else None)
    save_atomic(dict(state_dict=state, meta=meta), args.dst)
    print(report.summary())
    if 'outside the backbone' in report.ignored.values():
        print('  note: the neck and heads were left out; for a whole mmseg segmentor use '
              'tools/model_converters/mmseg2msvit.py')
    print(f'saved {len(state)} tensors to {args.dst}')
    return dict(state_dict=state, meta=meta)


if __name__ == '__main__':
    try:
        main()
    except (OSError, ValueError, RuntimeError, pickle.UnpicklingError) as err:
        sys.exit(f'vit2msvit: {err}')
