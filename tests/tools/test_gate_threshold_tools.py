"""visualize_gates.py --threshold and calibrate_gate.py refuse a gate without a threshold.

The PixelStatGate's bound on its statistic is not a probability (``max_statistic``); before,
``--threshold`` warned "no effect" and then changed its decisions.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from tests.helpers import ROOT, load_module

BASE = osp.join(ROOT, 'configs/_base_/msvit-t_upernet_synthetic-ade20k-128x128.py')


@pytest.fixture(scope='module')
def rule_model(tmp_path_factory):
    """A config whose gate is a PixelStatGate with a bound, and a checkpoint of its weights."""
    root = tmp_path_factory.mktemp('rule')
    config = root / 'rule.py'
    config.write_text(f"_base_ = ['{BASE}']\nmodel = dict(pretrained=None, backbone=dict(\n"
                      "    num_layers=1, out_indices=(0,),\n"
                      "    gate=dict(type='PixelStatGate', max_statistic=1.0)), gate_loss=None)\n")
    model = MODELS.build(Config.fromfile(str(config)).model)
    torch.save(dict(state_dict=model.state_dict()), root / 'rule.pth')
    return str(config), str(root / 'rule.pth')


def _tool(name: str):
    return load_module(osp.join(ROOT, 'tools', 'analysis_tools', f'{name}.py'), name)


def test_visualize_refuses_a_threshold_the_gate_does_not_have(rule_model, tmp_path):
    config, checkpoint = rule_model
    with pytest.raises(SystemExit, match='--threshold 0.3: PixelStatGate has no threshold'):
        _tool('visualize_gates').main([config, checkpoint, 'missing.jpg', '--threshold', '0.3',
                                       '--out-dir', str(tmp_path / 'out')])
    assert not (tmp_path / 'out').exists()  # refused before anything was written


def test_calibrate_refuses_a_gate_without_a_threshold(rule_model):
    config, checkpoint = rule_model
    with pytest.raises(SystemExit, match='the PixelStatGate has no threshold to calibrate'):
        _tool('calibrate_gate').main([config, checkpoint, '--target', '0.5'])  # no data read
    key = _tool('calibrate_gate').threshold_option(0.25)
    assert key == 'model.backbone.gate.threshold=0.250000'
