"""Write the embedded synthetic segmentation set in the ADE20K layout.

    python tools/dataset_converters/make_synthetic_ade20k.py [--root data/synthetic_ade]
    python tools/dataset_converters/make_synthetic_ade20k.py --root data/synthetic_ade \\
        --num-train 240 --num-val 60 --size 128 128 --seed 0 [--overwrite]

The result is read by mmseg's own ``ADE20KDataset``
(``data_root=data/synthetic_ade/ADEChallengeData2016``, ``reduce_zero_label=True``). Rerunning
with the same arguments does nothing; other arguments on an existing set need ``--overwrite``,
which deletes only the files the earlier run wrote (listed in its ``synthetic_meta.json``); a
root holding other .jpg/.png files is refused. See ``msvit_mm/datasets/synthetic_ade20k.py``
(the gate benchmark's scenes: ``benchmarks/gate/``).
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

from msvit_mm.datasets.synthetic_ade20k import DEFAULT_ROOT, make_synthetic_ade20k  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default=DEFAULT_ROOT,
                        help=f'folder that will hold ADEChallengeData2016 (default: {DEFAULT_ROOT};'
                             ' not data/ade, where the real ADE20K goes)')
    parser.add_argument('--num-train', type=int, default=240, help='training images')
    parser.add_argument('--num-val', type=int, default=60, help='validation images')
    parser.add_argument('--size', type=int, nargs=2, default=(128, 128), metavar=('H', 'W'),
                        help='image height and width (default: 128 128)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the set (default: 0)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a set this tool made with other arguments (only the '
                             'files it wrote are deleted)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    for name in ('num_train', 'num_val'):
        if getattr(args, name) < 0:
            sys.exit(f'error: --{name.replace("_", "-")} must be >= 0')
    start = time.perf_counter()
    try:
        info = make_synthetic_ade20k(args.root, num_train=args.num_train,
                                     num_val=args.num_val, size=args.size, seed=args.seed,
                                     overwrite=args.overwrite)
    except ValueError as err:
        sys.exit(f'error: --{str(err).split("=")[0].replace("_", "-")}: {err}')
    except FileExistsError as err:
        sys.exit(f'error: {err}')
    took = time.perf_counter() - start
    h, w = info['size']
    what = 'wrote' if info['written'] else 'already complete, nothing written:'
    print(f"{what} {info['num_train']} training + {info['num_val']} validation images "
          f"({h}x{w}, seed {info['seed']}) under {info['data_root']} in {took:.1f} s")
    print('classes (ADE20K label id: name): '
          + ', '.join(f'{k}: {v}' for k, v in sorted(info['classes'].items())))
    print(f"use: data_root='{info['data_root']}' with mmseg's ADE20KDataset "
          '(reduce_zero_label=True)')


if __name__ == '__main__':
    main()
