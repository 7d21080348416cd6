"""The studies (benchmarks/studies/) on a tiny untrained model: nothing updated, state restored."""
import json

import pytest
import torch

from benchmarks.studies.gradient_agreement import gradient_agreement
from benchmarks.studies.straight_through import straight_through_signal
from msvit_mm.analysis.loading import build_model, build_val_dataset
from tests.helpers import load_module
from tests.tools.conftest import REPO, SMALL_CONFIG
from tests.tools.test_gate_quality import _config, _options


def test_straight_through_signal(checkpoint, tiny_data_root):
    model = build_model(_config(tiny_data_root), checkpoint)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sig = straight_through_signal(model, build_val_dataset(_config(tiny_data_root)), 4, 2)
    assert set(sig) == {'all_coarse', 'all_fine'}
    for values in sig.values():
        assert 0.0 <= values['wants_fine'] <= 1.0
        assert -1.0 <= values['spearman_std'] <= 1.0
    assert not model.training and model.backbone.execution == 'auto'  # restored
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing updated
    assert all(p.grad is None for p in model.parameters())


def test_gate_gradients(checkpoint, tiny_data_root, tmp_path):
    model = build_model(_config(tiny_data_root), checkpoint)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = gradient_agreement(model, build_val_dataset(_config(tiny_data_root)), 0.5, 4, 2)
    assert list(result) == ['masked', 'packed', 'packed_cf']
    masked, packed, cf = result['masked'], result['packed'], result['packed_cf']
    assert masked['cos_all'] == pytest.approx(1.0) and masked['norm'] > 0
    # 'fine_mean' sends no task gradient to coarse regions (nan), 'zero' does
    assert cf['cos_coarse'] != cf['cos_coarse']
    assert cf['spearman_uniformity_coarse'] != cf['spearman_uniformity_coarse']
    assert -1 <= packed['cos_coarse'] <= 1 and -1 <= cf['cos_fine'] <= 1
    assert packed['cos_all'] < 1 - 1e-3  # another gradient than masked's
    assert not model.training and model.backbone.execution == 'auto'  # restored
    assert model.backbone.packed_counterfactual == 'zero'
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    tool = load_module(f'{REPO}/benchmarks/studies/gate_gradients.py', 'gate_gradients')
    tool.main([SMALL_CONFIG, checkpoint, '--num-images', '2', '--split', 'val', '--json',
               str(tmp_path / 'g.json'), '--cfg-options', *_options(tiny_data_root)])
    assert set(json.loads((tmp_path / 'g.json').read_text())) >= {'masked', 'packed_cf'}
