"""Write the real-texture benchmark set in the ADE20K layout (no download; CPU, about a minute).

    python benchmarks/texture/make_texture_set.py [--root data/texture_ade]
        [--num-train 480] [--num-val 120] [--size 128 128] [--seed 0] [--overwrite]

Files: ``{root}/ADEChallengeData2016/{images,annotations}/{training,validation}/
ADE_{train,val}_%08d.{jpg,png}`` plus a meta file listing them, written by
``msvit_mm.datasets.ade20k_writer.write_ade20k_set`` (idempotent, never touches a file it
did not write). Scenes: :mod:`benchmarks.texture.scenes`.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

from benchmarks.texture.scenes import MIN_SIZE, render_texture_scene  # noqa: E402
from benchmarks.texture.sources import TEXTURE_CLASSES  # noqa: E402

NAME = 'texture-v3'  # the scene design's version: a set of another design is refused


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default='data/texture_ade',
                        help='folder that gets ADEChallengeData2016/')
    parser.add_argument('--num-train', type=int, default=480)
    parser.add_argument('--num-val', type=int, default=120)
    parser.add_argument('--size', type=int, nargs=2, default=[128, 128], metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--overwrite', action='store_true',
                        help='rewrite files this command wrote before (never foreign ones)')
    args = parser.parse_args(argv)
    if args.num_train < 0 or args.num_val < 0 or args.num_train + args.num_val == 0:
        parser.error(f'--num-train and --num-val must be >= 0 and not both 0, got '
                     f'{args.num_train} and {args.num_val}')
    if min(args.size) < MIN_SIZE:
        parser.error(f'--size must be at least {MIN_SIZE} {MIN_SIZE}, got {args.size}')
    return args


def main(argv: Optional[List[str]] = None):
    from msvit_mm.datasets.ade20k_writer import write_ade20k_set

    args = parse_args(argv)
    out = write_ade20k_set(args.root, render_texture_scene, TEXTURE_CLASSES, NAME,
                           args.num_train, args.num_val, tuple(args.size), args.seed,
                           overwrite=args.overwrite, min_size=MIN_SIZE)
    print(f'texture set in {osp.join(args.root, "ADEChallengeData2016")}: '
          f'{args.num_train} training and {args.num_val} validation scenes')
    return out


if __name__ == '__main__':
    main()
