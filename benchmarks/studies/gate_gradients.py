"""Compare the gate's task gradient in each training form (masked, packed, packed_cf).

    python benchmarks/studies/gate_gradients.py CONFIG CHECKPOINT [--ratio 0.5]
        [--split train|val] [--num-images 64] [--json PATH] [--cfg-options key=value ...]

The trained model runs on the same images with the same random decisions (``--ratio`` of
each image's regions coarse) in masked execution (both scales run), packed execution
(absent scale read as zeros) and packed with the 'fine_mean' counterfactual; the decode
loss is back-propagated to the gate logits in each. Printed: each form's cosine similarity
with masked's gradient (all regions, coarse ones, fine ones) and its rank correlation with
the regions' label uniformity. Nothing is updated. See benchmarks/studies/gradient_agreement.py.
"""
import argparse
import json
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import msvit_mm  # noqa: E402,F401  (registers the modules)
from mmengine.config import DictAction  # noqa: E402

from benchmarks.studies.gradient_agreement import (agreement_markdown,  # noqa: E402
                                                   gradient_agreement)
from msvit_mm.analysis.loading import (build_model, build_train_images,  # noqa: E402
                                       build_val_dataset, has_learned_gate, load_config)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='trained checkpoint')
    parser.add_argument('--ratio', type=float, default=0.5,
                        help='share of each image\'s regions forced coarse, in (0, 1)')
    parser.add_argument('--split', choices=('train', 'val'), default='train')
    parser.add_argument('--num-images', type=int, default=64)
    parser.add_argument('--json', help='write the result here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, xxx=yyy pairs (as in mmseg)')
    args = parser.parse_args(argv)
    if not 0.0 < args.ratio < 1.0:
        parser.error(f'--ratio must lie in (0, 1), got {args.ratio}')
    return args


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model = build_model(cfg, args.checkpoint)
    if not has_learned_gate(model):
        gate = getattr(getattr(model.backbone, 'tokenizer', None), 'gate', None)
        sys.exit(f'gate_gradients.py: {args.config} has a {type(gate).__name__} gate, not '
                 'a learned one: its decisions get no gradient to compare (use a config with '
                 "a learned gate, e.g. gate=dict(type='MLPGate'))")
    dataset = build_train_images(cfg) if args.split == 'train' else build_val_dataset(cfg)
    result = gradient_agreement(model, dataset, args.ratio, args.num_images)
    print(agreement_markdown(result))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(result, ratio=args.ratio, split=args.split,
                           num_images=args.num_images), f, indent=1)
    return result


if __name__ == '__main__':
    main()
