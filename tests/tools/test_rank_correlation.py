"""The rank correlation of the gate analysis: tie-averaged Spearman, NaN when undefined."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from benchmarks.studies.gradient_agreement import _rank_corr, agreement_markdown
from msvit_mm.analysis.gate_quality import _spearman
from msvit_mm.analysis.stats import format_corr, spearman


def test_ties_share_their_mean_rank_by_hand():
    # y ranks [1.5, 1.5, 3, 4] against x ranks [1, 2, 3, 4]: centred (-1, -1, .5, 1.5) and
    # (-1.5, -.5, .5, 1.5); products sum to 4.5, squares to 4.5 and 5: r = sqrt(0.9)
    assert spearman([1., 2., 3., 4.], [1., 1., 2., 3.]) == pytest.approx(math.sqrt(0.9), abs=1e-12)


def test_fifteen_of_sixteen_tied_by_hand():
    # the case: the one lower value sits where x is highest. Its rank is 1, the 15
    # tied share (2 + 16) / 2 = 9; centred -7.5 and 0.5 (squares sum to 60); x's centred ranks
    # square-sum to 16 * (16 ** 2 - 1) / 12 = 340; products sum to -8 * 7.5 = -60
    x, y = torch.arange(16.), torch.ones(16)
    y[15] = 0.
    expected = -60 / math.sqrt(340 * 60)
    assert expected == pytest.approx(-0.4201, abs=1e-4)
    assert spearman(x, y) == pytest.approx(expected, abs=1e-12)
    # argsort(argsort) broke the ties by position and found a positive correlation
    old = torch.argsort(torch.argsort(y)).double()
    rx = x.double() - x.double().mean()
    assert float((rx * (old - old.mean())).sum() / (rx.norm() * (old - old.mean()).norm())) > 0.6


def test_undefined_cases_are_nan():
    assert math.isnan(spearman(torch.arange(5.), torch.ones(5)))  # constant side
    assert math.isnan(spearman(torch.ones(5), torch.arange(5.)))
    assert math.isnan(spearman([1.], [2.]))  # fewer than two values
    assert math.isnan(spearman([], []))
    assert math.isnan(spearman([1., float('nan'), 3.], [1., 2., 3.]))
    with pytest.raises(ValueError, match='3 and 2 values'):
        spearman([1., 2., 3.], [1., 2.])


def test_matches_scipy_on_tied_data():
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.integers(0, 4, 40).astype(float), rng.integers(0, 3, 40).astype(float)
        assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)


def test_analysis_users_call_it_and_tables_say_n_a():
    x, y = torch.arange(16.), torch.ones(16)
    y[15] = 0.
    assert _spearman(x, y) == pytest.approx(spearman(x, y), abs=0)
    assert _rank_corr(x, y) == pytest.approx(spearman(x, y), abs=0)
    assert math.isnan(_spearman(x, torch.ones(16)))  # was 1.0 against a constant map
    assert math.isnan(_rank_corr(torch.zeros(4), x[:4]))
    assert format_corr(float('nan')) == 'n/a' and format_corr(0.5) == '+0.50'
    row = dict(cos_all=1.0, cos_coarse=1.0, cos_fine=1.0, norm=1.0,
               spearman_uniformity_coarse=float('nan'), spearman_uniformity_fine=-0.25)
    table = agreement_markdown({'masked': row})
    assert '| n/a |' in table and '-0.25' in table
