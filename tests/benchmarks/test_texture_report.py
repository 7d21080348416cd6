"""The texture benchmark's report (benchmarks/texture/report.py) on hand-made result files."""
import json
import os.path as osp

import pytest

from benchmarks.texture import report


def _model(path, miou, gmacs, coarse):
    with open(path, 'w') as f:
        json.dump([dict(run=osp.basename(path), kind='baseline', mIoU=miou, gmacs=gmacs,
                        coarse_ratio=coarse, tokens=0.)], f)


def _quality(path, share, learned=None, random=50., std=51., entropy=49., oracle=55.):
    row = dict(budget=share, coarse_ratio=float(share), random=random, std=std,
               entropy=entropy, oracle=oracle)
    if learned is not None:
        row['learned'] = learned
    with open(path, 'w') as f:
        json.dump(dict(rows=[dict(row, budget='own'), row]), f)


@pytest.fixture
def results(tmp_path):
    d = tmp_path
    _model(d / 'model_vit16-0.json', 60., 0.08, 0.)
    _model(d / 'model_vit32-1.json', 40., 0.04, 1.)
    _model(d / 'model_msvit-0.5.json', 55., 0.06, 0.5)
    _model(d / 'model_msvit-0.5-seed1.json', 53., 0.062, 0.5)
    _model(d / 'model_entropy-0.5.json', 52., 0.061, 0.5)
    _quality(d / 'gate_quality_msvit-0.5.json', '0.5', learned=54.)
    _quality(d / 'gate_quality_msvit-0.5-seed1.json', '0.5', learned=52., random=48.)
    _quality(d / 'gate_quality_entropy-0.5.json', '0.5')
    _model(d / 'model_msvitimg-0.5.json', 54., 0.06, 0.5)
    _quality(d / 'gate_quality_msvitimg-0.5.json', '0.5', learned=53., random=50.)
    _model(d / 'model_random-0.25-seed1.json', 51., 0.07, 0.25)  # seed 1 alone
    return d


def test_summary_means_line_and_checks(results):
    s = report.summarize(report.collect(str(results)))
    m = s['groups']['msvit-0.5']
    assert m['miou'] == [55., 53.] and m['miou_mean'] == pytest.approx(54.)
    assert m['gmacs'] == pytest.approx(0.061)
    # the straight line from (0.04, 40) to (0.08, 60) at 0.061 GMACs
    assert m['line'] == pytest.approx(40. + 0.021 * 500.)
    assert m['quality']['learned'] == pytest.approx(53.) and m['quality']['random'] == 49.
    checks = {c['what']: c for c in s['checks']}
    assert checks['model vs entropy-rule model']['value'] == pytest.approx(2.)
    assert checks['model vs entropy-rule model']['met']
    assert checks['learned vs random decisions']['value'] == pytest.approx(4.)
    assert checks['learned vs random decisions']['met']
    assert checks['model vs ViT/32-ViT/16 line']['value'] == pytest.approx(54. - 50.5)
    assert checks['model vs entropy-rule model']['gmacs_gap'] == pytest.approx(0.061 / 0.061 - 1)


def test_checks_fail_below_the_bar(results):
    s = report.summarize(report.collect(str(results)))
    checks = {c['what']: c for c in s['checks']}
    assert checks['learned vs entropy decisions']['value'] == pytest.approx(4.)
    assert checks['learned vs entropy decisions']['met']
    assert checks['learned vs oracle decisions (stretch)']['value'] == pytest.approx(-2.)
    assert not checks['learned vs oracle decisions (stretch)']['met']
    assert 'model vs random-gate model' not in checks  # no random-gate model at 0.5


def test_a_lone_seed_and_the_cheap_form(results):
    s = report.summarize(report.collect(str(results)))
    assert s['groups']['random-0.25']['miou'] == [None, 51.]  # in the seed-1 column
    assert s['groups']['random-0.25']['miou_mean'] == 51.
    (cheap,) = s['cheap']
    # margins: MSViT (54 + 52) / 2 - (50 + 48) / 2 = 4, the cheap form 53 - 50 = 3
    assert cheap['kind'] == 'msvitimg' and cheap['share'] == pytest.approx(0.75)
    text = report.render(s, 'cmd')
    assert "keeps 75% of MSViT's learned - random margin" in text
    assert '|  | 51.00 | 51.00 |' in text


def test_report_files_and_round_trip(results, tmp_path):
    out = str(tmp_path / 'table')
    report.main(['--results', str(results), '--out', out])
    text = open(out + '.md').read()
    assert 'MSViT (learned gate)' in text and '54.00' in text
    assert osp.getsize(out + '.png') > 0
    again = str(tmp_path / 'again')
    report.main(['--from-json', out + '.json', '--out', again])
    assert open(again + '.md').read() == text


def test_a_share_without_its_row_is_refused(results):
    _quality(results / 'gate_quality_entropy-0.5.json', '0.25')
    with pytest.raises(ValueError, match='no row at coarse share 0.5'):
        report.collect(str(results))
