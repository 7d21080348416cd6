"""Is the gate choosing well? mIoU of one trained model under decisions from several sources.

    python tools/analysis_tools/gate_quality.py CONFIG CHECKPOINT [--num-images N]
        [--ratios 0.25 0.5 0.75] [--seeds 0 1 2] [--out-md PATH] [--out-json PATH]
        [--cfg-options key=value ...]

For every validation image the model runs with its own gate's decisions and with the same
number of coarse regions per image chosen at random (each seed), by the training-free rules
(lowest pixel std, lowest grey-level entropy) and by the label oracle (most label-uniform);
then again at the fixed coarse shares of ``--ratios``. Prints (and writes) a markdown table of
mIoU per source and the learned gate's statistics. The library is
:mod:`msvit_mm.analysis.gate_quality`.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import msvit_mm  # noqa: E402,F401  (registers the modules)
from mmengine.config import DictAction  # noqa: E402

from msvit_mm.analysis.gate_quality import gate_quality, markdown, summary_line  # noqa: E402
from msvit_mm.analysis.loading import build_model, build_val_dataset, load_config  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='trained checkpoint')
    parser.add_argument('--num-images', type=int, default=0,
                        help='validation images to use (<= 0: all)')
    parser.add_argument('--ratios', type=float, nargs='*', default=[0.25, 0.5, 0.75],
                        help='fixed coarse shares per image, each in [0, 1]')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                        help='seeds of the random decisions')
    parser.add_argument('--out-md', help='write the markdown table here')
    parser.add_argument('--out-json', help='write the full result here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, xxx=yyy pairs (as in mmseg)')
    args = parser.parse_args(argv)
    if not args.ratios:
        parser.error('--ratios needs at least one coarse share in [0, 1] (e.g. --ratios 0.5)')
    bad = [r for r in args.ratios if not 0.0 <= r <= 1.0]
    if bad:
        parser.error(f'--ratios must lie in [0, 1], got {bad}')
    return args


class RegionSizedImages:
    """``dataset``, refusing an image smaller than one ``region`` x ``region`` region
    (padded to a single region, no share of its regions is meaningful)."""

    def __init__(self, dataset, region: int):
        self.dataset, self.region, self.metainfo = dataset, region, dataset.metainfo

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        sample = self.dataset[index]
        h, w = sample['inputs'].shape[-2:]
        if min(h, w) < self.region:
            path = sample['data_samples'].metainfo.get('img_path', f'image {index}')
            raise ValueError(f'{path}: {h}x{w} after the test pipeline is smaller than one '
                             f'{self.region}x{self.region} region of the gate; gate quality '
                             'compares choices among several regions per image')
        return sample


def rounding_notes(result: dict) -> List[str]:
    """A line for each fixed budget whose count per image rounds to none or all regions."""
    notes = []
    for row in result['rows']:
        if row['budget'] == 'own':
            continue
        asked, got = float(row['budget']), row['coarse_ratio']
        if asked > 0 and got == 0:
            notes.append(f"budget {row['budget']}: rounds to zero coarse regions on these "
                         'images (too few regions per image): its row is the all-fine model')
        elif asked < 1 and got == 1:
            notes.append(f"budget {row['budget']}: rounds to every region coarse on these "
                         'images (too few regions per image)')
    return notes


def _write(path: Optional[str], text: str) -> None:
    if path:
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model = build_model(cfg, args.checkpoint)
    dataset = build_val_dataset(cfg, hint='Point at the data with --cfg-options '
                                '"val_dataloader.dataset.data_root=..."')
    dataset = RegionSizedImages(dataset, model.backbone.tokenizer.coarse_patch_size)
    result = gate_quality(model, dataset, args.num_images, args.ratios, args.seeds,
                          progress=True)
    result.update(config=args.config, checkpoint=args.checkpoint, notes=rounding_notes(result))
    table = markdown(result)
    print(table)
    line = summary_line(result)
    if line:
        print(line)
    for note in result['notes']:
        print(f'note: {note}')
    for key, value in result.get('gate_statistics', {}).items():
        print(f'  {key:40s} {value:.3f}')
    _write(args.out_md, table)
    _write(args.out_json, json.dumps(result, indent=1))
    return result


if __name__ == '__main__':
    main()
