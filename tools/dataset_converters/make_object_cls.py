"""Write the embedded object-classification set in mmpretrain's CustomDataset folder layout.

    python tools/dataset_converters/make_object_cls.py [--root data/objects_cls]
    python tools/dataset_converters/make_object_cls.py --root data/objects_cls \\
        --num-train 400 --num-val 100 --size 128 --seed 0 [--overwrite]

Writes ``ROOT/{train,val}/<class>/<id>.png`` and ``ROOT/classes.txt``: one real object per
image (crops of the photos in the scikit-image and scikit-learn wheels, one class per photo)
on a plain background; nothing is downloaded. Read it with mmpretrain's ``CustomDataset``
(``data_root=ROOT, data_prefix='train', classes=ROOT/classes.txt``). Rerunning with the same
arguments does nothing; other arguments on an existing set need ``--overwrite``, which
deletes only the files the earlier run wrote. See ``msvit_mm/datasets/object_scenes.py``.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

from msvit_mm.datasets.object_cls_writer import DEFAULT_ROOT, make_object_cls  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default=DEFAULT_ROOT, help=f'output folder ({DEFAULT_ROOT})')
    parser.add_argument('--num-train', type=int, default=400, help='training images (400)')
    parser.add_argument('--num-val', type=int, default=100, help='validation images (100)')
    parser.add_argument('--size', type=int, nargs='+', default=[128], metavar='S',
                        help='image side, or H W (default: 128)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the set (default: 0)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a set this tool made with other arguments (only the '
                             'files it wrote are deleted)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if len(args.size) not in (1, 2):
        sys.exit(f'error: --size takes one side or H W, got {args.size}')
    size = tuple(args.size) * (3 - len(args.size))
    start = time.perf_counter()
    try:
        info = make_object_cls(args.root, num_train=args.num_train, num_val=args.num_val,
                               size=size, seed=args.seed, overwrite=args.overwrite)
    except ValueError as err:
        sys.exit(f'error: {err}')
    except FileExistsError as err:
        sys.exit(f'error: {err}')
    h, w = info['size']
    what = 'wrote' if info['written'] else 'already complete, nothing written:'
    print(f"{what} {info['num_train']} training + {info['num_val']} validation images "
          f"({h}x{w}, seed {info['seed']}) under {info['root']} in "
          f'{time.perf_counter() - start:.1f} s')
    print(f"classes ({len(info['classes'])}): {', '.join(info['classes'])}")
    print(f"use: mmpretrain's CustomDataset(data_root='{info['root']}', data_prefix='train', "
          f"classes='{info['classes_file']}')")


if __name__ == '__main__':
    main()
