"""The texture benchmark's headroom: rules against label uniformity, and gate quality margins.

    python benchmarks/texture/headroom.py [--data-root data/texture_ade/ADEChallengeData2016]
        [--gate-quality results/gate_quality_random-0.5.json] [--out-json PATH]
    python benchmarks/texture/headroom.py --from-renderer 200 [--seed 0]   # no files needed

Prints (and writes) the mean within-image Spearman of the low-entropy and low-std rules
with label uniformity (:mod:`benchmarks.texture.region_stats`) on the validation scenes
(or on scenes drawn directly), and, given the JSON that
``tools/analysis_tools/gate_quality.py --out-json`` wrote for the random-gate model, the
margins at 0.5 coarse: oracle - random, oracle - entropy rule (the bar: >= 2 mIoU).
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from benchmarks.texture.region_stats import read_split, rule_agreement  # noqa: E402

BAR = 2.0  # oracle - entropy rule, mIoU


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/texture_ade/ADEChallengeData2016')
    parser.add_argument('--from-renderer', type=int, default=0, metavar='N',
                        help='measure N scenes drawn directly instead of the files')
    parser.add_argument('--size', type=int, nargs=2, default=[128, 128])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--gate-quality', help="gate_quality.py's --out-json file")
    parser.add_argument('--budget', default='0.5')
    parser.add_argument('--out-json')
    return parser.parse_args(argv)


def margins(gq: dict, budget: str) -> dict:
    """oracle - random and oracle - each rule (mIoU) at ``budget`` of a gate-quality result."""
    row = next((r for r in gq['rows'] if r['budget'] == budget), None)
    if row is None:
        raise KeyError(f"no budget {budget!r} in the gate-quality result (has "
                       f"{[r['budget'] for r in gq['rows']]})")
    out = {k: row[k] for k in ('random', 'random_min', 'random_max', 'std', 'entropy', 'oracle')}
    out.update(oracle_minus_random=row['oracle'] - row['random'],
               oracle_minus_entropy=row['oracle'] - row['entropy'],
               oracle_minus_std=row['oracle'] - row['std'], budget=budget,
               bar_met=row['oracle'] - row['entropy'] >= BAR, num_images=gq['num_images'])
    return out


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    if args.from_renderer > 0:
        import numpy as np

        from benchmarks.texture.scenes import render_texture_scene
        scenes = (render_texture_scene(np.random.default_rng([args.seed, 1, i]),
                                       tuple(args.size)) for i in range(args.from_renderer))
        source = f'{args.from_renderer} scenes drawn with seed {args.seed}'
    else:
        scenes, source = read_split(args.data_root), f'{args.data_root} (validation)'
    out = dict(data=source, rules=rule_agreement(scenes), command=' '.join(sys.argv))
    r = out['rules']
    print(f"{source}: within-image Spearman with label uniformity: low entropy "
          f"{r['spearman_low_entropy']:+.3f}, low std {r['spearman_low_std']:+.3f}; "
          f"one-class regions {100 * r['uniform_share']:.1f}%")
    if args.gate_quality:
        with open(args.gate_quality) as f:
            out['margins'] = m = margins(json.load(f), args.budget)
        print(f"at {args.budget} coarse: oracle {m['oracle']:.2f}, random {m['random']:.2f}, "
              f"std {m['std']:.2f}, entropy {m['entropy']:.2f} mIoU; oracle - random "
              f"{m['oracle_minus_random']:+.2f}, oracle - entropy "
              f"{m['oracle_minus_entropy']:+.2f} (bar >= {BAR:g}: "
              f"{'met' if m['bar_met'] else 'missed'})")
    if args.out_json:
        os.makedirs(osp.dirname(osp.abspath(args.out_json)), exist_ok=True)
        with open(args.out_json, 'w') as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == '__main__':
    main()
