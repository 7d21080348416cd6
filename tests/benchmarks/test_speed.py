"""The speed harness (benchmarks/speed/: speed.py, speed_benchmark.py, train_benchmark.py) and
a small run of its CLI (benchmark_packed.py).

Timings are benchmarks, not tests: the helpers' arithmetic and plumbing are checked, timing
with a fake clock.
"""
import os.path as osp

import pytest
import torch

from benchmarks.speed.speed import (build_pair, gate_macs_per_region, msvit_macs,
                                    same_weights_vit, spread_masks, vit_macs, vit_sdpa_forward)
from benchmarks.speed.speed_benchmark import BenchSettings, target_summary
from benchmarks.speed.train_benchmark import bench_train, train_table
from msvit_mm.analysis.throughput import time_variants
from msvit_mm.engine.cli import load_config
from tests.helpers import ROOT, assert_close_scaled, load_module

SMALL = dict(embed_dims=32, num_heads=4, num_layers=2, out_indices=(0, 1))


def test_analytic_macs_reproduce_design_numbers():
    vit, msvit = build_pair(img_size=224, num_layers=12)
    gate = 49 * gate_macs_per_region(msvit)
    assert gate_macs_per_region(msvit) == 426_112
    assert round(vit_macs(vit, (224, 224)) / 1e9, 2) == 4.60
    assert round((msvit_macs(msvit, 24 + 25 * 4, 49) - gate) / 1e9, 2) == 2.83
    assert round(vit_macs(vit, (512, 512)) / 1e9, 2) == 31.75
    assert round((msvit_macs(msvit, 128 + 128 * 4, 256) - 256 * 426_112) / 1e9, 2) == 17.59


def test_spread_masks_keep_the_mean_and_the_ends():
    gen = torch.Generator().manual_seed(0)
    m = spread_masks(8, (16, 16), 0.5, 0.2, gen)
    ratios = m.flatten(1).float().mean(1)
    assert abs(ratios.mean().item() - 0.5) < 1e-2 and ratios.min() < 0.35 < 0.65 < ratios.max()
    assert not spread_masks(8, (4, 6), 0., generator=gen).any()
    assert spread_masks(8, (4, 6), 1., generator=gen).all()
    assert spread_masks(1, (4, 4), 0.25, generator=gen).sum() == 4


def _flat(outs):
    return [t for o in outs for t in (o if isinstance(o, list) else [o])]


@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(with_cls_token=False),
    dict(output_cls_token=True, out_origin=True, pre_norm=True, final_norm=True),
])
def test_sdpa_vit_and_control_match_mmseg_vit(kwargs):
    vit, _ = build_pair(img_size=64, **SMALL, **kwargs)
    x = torch.randn(2, 3, 64, 48)
    other = same_weights_vit(vit, (64, 48))
    with torch.no_grad():
        ref, fast, ctrl = vit(x), vit_sdpa_forward(vit, x), other(x)
    flat = [_flat(o) for o in (ref, fast, ctrl)]
    assert len(flat[0]) == len(flat[1]) == len(flat[2]) == len(ref) * (1 + vit.output_cls_token)
    for r, f, c in zip(*flat):
        assert_close_scaled(f, r)
        assert c.shape == r.shape


def test_time_variants_alternates_and_takes_the_median():
    """A fake clock: each call of a variant lasts what its list says, round by round."""
    calls, now = [], [0.]
    durations = {'a': iter([9., 3., 1., 2.]), 'b': iter([9., 5., 7., 4.])}

    def run(name):
        calls.append(name)
        now[0] += next(durations[name])
    times = time_variants({'a': lambda: run('a'), 'b': lambda: run('b')},
                          repeats=3, warmup=1, clock=lambda: now[0])
    assert calls == ['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a']
    assert times == {'a': 2., 'b': 5.}  # the warm-up round (9 s) is not counted


def _benchmark_tool():
    return load_module(osp.join(ROOT, 'benchmarks/speed/benchmark_packed.py'),
                       'benchmark_packed')


def test_target_summary_names_each_miss():
    def row(coarse, lat, msvit_s, size=256, batch=1):
        return dict(size=size, batch=batch, coarse_mean=coarse, lat_sdpa=lat, quot_sdpa=1.3,
                    msvit_s=msvit_s, dense_s=1.)
    rows = [row(0., 1.02, 1.), row(0., 1.04, 1.), row(.5, .6, 1.09), row(.5, .6, 1.09, batch=8),
            row(.5, .6, 1.09, size=512), row(1., .4, 1.2), row(.5, .5, 1.04, batch=8)]
    text = target_summary(rows)
    assert 'met 3 of 7' in text
    missed = [line for line in text.splitlines() if 'missed' in line]
    assert missed == [
        '  missed: 256 batch 1 coarse 0.00: MSViT / ViT-SDPA 1.040 > 1.03 (MACs quotient 1.300)',
        '  missed: 256 batch 8 coarse 0.50: MSViT / dense 1.090 > 1.05 (MACs quotient 1.300)',
        '  missed: 512 batch 1 coarse 0.50: MSViT / dense 1.090 > 1.05 (MACs quotient 1.300)',
        '  missed: 256 batch 1 coarse 1.00: MSViT / dense 1.200 > 1.1 (MACs quotient 1.300)']


def test_benchmark_cli_runs_small():
    tool = _benchmark_tool()
    threads = torch.get_num_threads()
    try:
        result = tool.main(['--sizes', '64', '--batches', '2', '--ratios', '0', '1',
                            '--repeats', '1', '--warmup', '0', '--train-sizes', '64',
                            '--train-batches', '2', '--train-ratios', '0', '0.5',
                            '--threads', '1', '--no-segmentor'])
    finally:
        torch.set_num_threads(threads)
    inf = result['inference']
    assert [r['ratio'] for r in inf] == [0., 1.]
    assert [r['tokens_mean'] for r in inf] == [16, 4]
    assert inf[0]['macs_ratio'] > 1 > inf[1]['macs_ratio']
    assert all(r['quot_dense'] > 0 for r in inf)  # the dense control ran and was counted
    (floor,) = result['floor']
    assert floor['tokens'] == 17
    assert floor['weight_bytes'] == 4 * sum(p.numel() for p in build_pair(64)[0].layers.parameters())
    train = {r['variant']: r for r in result['train']}
    assert list(train) == ['vit', 'vit_sdpa', 'dense@0.5', 'frozen@0', 'frozen@0.5',
                           'masked@0.5', 'packed@0.5', 'packed_cf@0.5']
    assert train['dense@0.5']['tokens_mean'] == 8  # 4 rows x 2 columns ~ 10 tokens
    assert train['frozen@0']['tokens_mean'] == 16 and train['frozen@0.5']['tokens_mean'] < 16
    assert train['masked@0.5']['macs_ratio'] > train['frozen@0']['macs_ratio'] > 1
    assert train['packed@0.5']['macs_ratio'] == train['frozen@0.5']['macs_ratio'] < 1
    assert train['masked@0.5']['saved_mb'] > train['frozen@0']['saved_mb'] > \
        train['frozen@0.5']['saved_mb'] > 0


def test_whole_segmentor_training_step_is_timed_and_counted():
    config = load_config(osp.join(
        ROOT, 'configs/msvit/msvit-t_upernet_1xb8-800_synthetic-ade20k-128x128.py'))
    rows = bench_train(64, 2, [0., 0.5], BenchSettings(repeats=1, warmup=0), config=config)
    by = {r['variant']: r for r in rows}
    assert all(r['level'] == 'segmentor' and r['seconds'] > 0 for r in rows)
    backbone = {r['variant']: r for r in bench_train(64, 2, [0., 0.5],
                                                     BenchSettings(repeats=1, warmup=0))}
    # the heads' MACs are the same for every variant: ratios move less than the backbone's
    fine, half = by['frozen@0'], by['frozen@0.5']
    assert 1 > half['macs_ratio'] / fine['macs_ratio'] > \
        backbone['frozen@0.5']['macs_ratio'] / backbone['frozen@0']['macs_ratio']
    assert by['masked@0.5']['saved_mb'] > fine['saved_mb'] > half['saved_mb'] > 0


def test_train_table_shows_the_cuda_peak_only_when_measured():
    row = dict(level='backbone', size=64, batch=2, variant='frozen@0', ratio=0., tokens_mean=16,
               seconds=0.1, vs_sdpa=1.0, vs_fine=1.0, macs_ratio=1.0, saved_mb=3.,
               cuda_peak_mb=float('nan'))
    assert 'CUDA' not in train_table([row])
    text = train_table([dict(row, cuda_peak_mb=123.4)])
    assert 'CUDA peak MB' in text and text.splitlines()[-1].endswith('| 123 |')


def test_query_forms_are_timed_and_counted_between_packed_and_masked():
    rows = bench_train(64, 2, [0., 0.5], BenchSettings(repeats=1, warmup=0),
                       query_shares=[0.5], masked_query=True, image_shares=[0.5])
    by = {r['variant']: r for r in rows}
    packed, masked = by['packed@0.5']['macs_ratio'], by['masked_query@0.5']['macs_ratio']
    half = by['masked_query_img0.5@0.5']['macs_ratio']
    # one of the two images counted as masked_query, the other as packed
    assert half == pytest.approx((packed + masked) / 2)
    assert packed < by['packed_query0.5@0.5']['macs_ratio'] < masked
    assert by['masked_query_img0.5@0.5']['seconds'] > 0
