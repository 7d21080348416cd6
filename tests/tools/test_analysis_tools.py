"""tools/analysis_tools/{msvit_table,benchmark,visualize_gates}.py on two tiny trained runs."""
import json
import os
import os.path as osp
import re
import shutil
import struct

import cv2
import numpy as np
import pytest
import torch

from msvit_mm.analysis.table import find_run, logged_validation
from msvit_mm.analysis.throughput import image_batches

from .conftest import PYTHON, REPO, SMALL_CONFIG, quick_options, run_tool

VIT32_CONFIG = osp.join(
    REPO, 'configs/baselines/vit-t32_upernet_1xb8-800_synthetic-ade20k-128x128.py')
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _train(config: str, work_dir: str, data_root: str) -> dict:
    run_tool([PYTHON, 'tools/train.py', config, '--work-dir', work_dir, '--cfg-options',
              *quick_options(data_root, max_iters=2, interval=2)])
    return find_run(work_dir)


@pytest.fixture(scope='module')
def runs(tiny_data_root, tmp_path_factory):
    """Two runs of 2 iterations: the small MSViT (learned gate) and ViT/32 (all coarse)."""
    root = tmp_path_factory.mktemp('analysis_runs')
    return dict(msvit=_train(SMALL_CONFIG, str(root / 'msvit'), tiny_data_root),
                vit32=_train(VIT32_CONFIG, str(root / 'vit32'), tiny_data_root))


def _table(path: str) -> list:
    """Rows of the Markdown table as dicts of strings."""
    lines = [ln for ln in open(path).read().splitlines() if ln.startswith('|')]
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    return [dict(zip(header, (c.strip() for c in ln.strip('|').split('|')))) for ln in lines[2:]]


def _png_size(path: str) -> tuple:
    with open(path, 'rb') as f:
        head = f.read(24)
    assert head[:8] == PNG_SIGNATURE, f'{path} is not a PNG'
    return struct.unpack('>II', head[16:24])  # IHDR width, height


def test_find_run_and_logged_validation(tmp_path):
    work = tmp_path / 'my_run'
    (work / '20260101_000000' / 'vis_data').mkdir(parents=True)
    (work / 'other.py').write_text('x = 1\n')
    (work / 'my_run.py').write_text('x = 2\n')
    for it in (2, 10, 4):
        (work / f'iter_{it}.pth').write_bytes(b'')
    assert find_run(str(work))['checkpoint'] == str(work / 'iter_10.pth')  # highest, no record
    (work / 'last_checkpoint').write_text('/moved/away/iter_4.pth')  # the dir was moved
    run = find_run(str(work))
    assert run['config'] == str(work / 'my_run.py') and run['iteration'] == 4
    assert run['checkpoint'] == str(work / 'iter_4.pth')
    assert logged_validation(str(work)) is None
    lines = [dict(loss=1.0, step=2), dict(mIoU=10.0, step=2), dict(loss=0.5, step=4),
             dict(mIoU=12.5, aAcc=50.0, step=4)]
    (work / '20260101_000000' / 'vis_data' / 'scalars.json').write_text(
        ''.join(json.dumps(x) + '\n' for x in lines))
    assert logged_validation(str(work)) == dict(mIoU=12.5, aAcc=50.0, step=4)


def test_image_batches_group_by_size():
    from mmseg.models import SegDataPreProcessor
    from mmseg.structures import SegDataSample

    class Stub(torch.nn.Module):
        data_preprocessor = SegDataPreProcessor(mean=[0.] * 3, std=[1.] * 3)

    sizes = [(32, 48), (64, 64), (32, 48), (32, 48), (64, 64)]
    dataset = [dict(inputs=torch.zeros(3, *s, dtype=torch.uint8),
                    data_samples=SegDataSample(metainfo=dict(img_shape=s, ori_shape=s)))
               for s in sizes]
    batches = image_batches(Stub(), dataset, num_images=5, batch_size=2)
    shapes = sorted(tuple(b['inputs'].shape) for b in batches)
    assert shapes == [(1, 3, 32, 48), (2, 3, 32, 48), (2, 3, 64, 64)]
    assert len(image_batches(Stub(), dataset, num_images=2, batch_size=8)) == 2


def test_table_sorted_by_gmacs_with_kinds_and_plot(runs, tmp_path):
    md, png, js = (str(tmp_path / f'table.{ext}') for ext in ('md', 'png', 'json'))
    run_tool([PYTHON, 'tools/analysis_tools/msvit_table.py', runs['msvit']['work_dir'],
              runs['vit32']['work_dir'], '--out-md', md, '--out-png', png, '--out-json', js])
    rows = _table(md)
    assert [r['run'] for r in rows] == ['vit32', 'msvit']  # reordered: ViT/32 is cheaper
    assert [r['kind'] for r in rows] == ['baseline', 'msvit']
    gmacs = [float(r['GMACs']) for r in rows]
    assert 0 < gmacs[0] < gmacs[1]
    assert float(rows[0]['coarse ratio']) == 1.0 and float(rows[0]['tokens/img']) == 16.0
    for r, name in zip(rows, ('vit32', 'msvit')):  # the validation logged by the run
        logged = logged_validation(runs[name]['work_dir'])
        assert float(r['mIoU']) == pytest.approx(logged['mIoU'], abs=0.005)
    assert [r['run'] for r in json.load(open(js))] == ['vit32', 'msvit']
    width, height = _png_size(png)
    assert (width, height) == (700, 500) and os.path.getsize(png) > 10_000


def test_table_thresholds_give_a_curve_from_one_run(runs, tmp_path):
    md, js = str(tmp_path / 'curve.md'), str(tmp_path / 'curve.json')
    run_tool([PYTHON, 'tools/analysis_tools/msvit_table.py', runs['msvit']['work_dir'],
              '--thresholds', '0.9,0.1,0.5', '--out-md', md, '--out-json', js,
              '--out-png', str(tmp_path / 'curve.png')])
    rows = _table(md)
    assert len(rows) == 3 and all(r['kind'] == 'msvit' for r in rows)
    by_t = {float(re.search(r'\(t=([\d.]+)\)', r['run']).group(1)): r for r in rows}
    assert sorted(by_t) == [0.1, 0.5, 0.9]
    coarse = [float(by_t[t]['coarse ratio']) for t in sorted(by_t)]
    assert coarse[0] >= coarse[1] >= coarse[2] and coarse[0] > coarse[2]
    gmacs = [float(r['GMACs']) for r in rows]
    assert gmacs == sorted(gmacs)
    # evaluated here at the trained threshold: the same mIoU as the run's own validation
    logged = logged_validation(runs['msvit']['work_dir'])
    assert float(by_t[0.5]['mIoU']) == pytest.approx(logged['mIoU'], abs=0.005)
    assert {r['threshold'] for r in json.load(open(js))} == {0.1, 0.5, 0.9}


def test_benchmark_vs_prints_ratio(runs):
    ms, vit = runs['msvit'], runs['vit32']
    proc = run_tool([PYTHON, 'tools/analysis_tools/benchmark.py', ms['config'], ms['checkpoint'],
                     '--vs', vit['config'], vit['checkpoint'], '--num-images', '3',
                     '--batch-size', '2', '--repeat', '1', '--warmup', '1'])
    match = re.search(r'speed ratio .*: ([\d.]+)x', proc.stdout)
    assert match, proc.stdout
    assert float(match.group(1)) > 0
    table = {ln.split()[0]: ln.split() for ln in proc.stdout.splitlines()
             if ln.startswith(('msvit-t_', 'vit-t32_'))}
    assert len(table) == 2 and all(cols[1] == '3' for cols in table.values())  # 3 images each
    ms_row = table[next(k for k in table if k.startswith('msvit-t_'))]
    vit_row = table[next(k for k in table if k.startswith('vit-t32_'))]
    assert vit_row[-1] == '1.000'  # all coarse
    assert float(match.group(1)) == pytest.approx(float(ms_row[2]) / float(vit_row[2]), rel=0.01)


def test_visualize_gates_with_and_without_label(runs, tiny_data_root, tmp_path):
    image = osp.join(tiny_data_root, 'images', 'validation', 'ADE_val_00000001.jpg')
    unlabelled = str(tmp_path / 'photo.jpg')
    shutil.copy(image, unlabelled)
    out_dir = str(tmp_path / 'gates')
    run_tool([PYTHON, 'tools/analysis_tools/visualize_gates.py', runs['msvit']['config'],
              runs['msvit']['checkpoint'], image, unlabelled, '--out-dir', out_dir,
              '--threshold', '0.5'])
    labelled = cv2.imread(osp.join(out_dir, 'ADE_val_00000001.png'))
    plain = cv2.imread(osp.join(out_dir, 'photo.png'))
    assert labelled.shape == (128, 3 * 128 + 2 * 4, 3)  # image+gate | label | prediction
    assert plain.shape == (128, 2 * 128 + 4, 3)  # image+gate | prediction
    original = cv2.imread(image)
    assert not np.array_equal(labelled[:, :128], original)  # the layout is drawn over it
