"""FreezeGateHook: the gate learns, then is frozen and execution='auto' turns packed."""
from types import SimpleNamespace

import pytest
import torch
from mmseg.registry import MODELS

from msvit_mm.engine import gate_schedule
from msvit_mm.engine.gate_schedule import FreezeGateHook
from tests.models.test_segmentor import BACKBONE, PREPROCESSOR, UPERNET, _batch


def _model(gate: dict = None):
    backbone = dict(BACKBONE, gate=gate or dict(type='MLPGate', hidden_dims=(8,)),
                    execution='auto')
    return MODELS.build(dict(type='MSViTEncoderDecoder', backbone=backbone,
                             data_preprocessor=PREPROCESSOR, **UPERNET)).train()


def _runner(model, it: int, max_iters: int = 10):
    return SimpleNamespace(model=model, iter=it, max_iters=max_iters)


def test_gate_learns_then_freezes_and_training_turns_packed():
    model = _model()
    hook = FreezeGateHook(gate_iters=3)
    hook.before_train(_runner(model, 0))
    gate = model.backbone.tokenizer.gate
    for it in range(3):
        hook.before_train_iter(_runner(model, it), it)
        assert all(p.requires_grad for p in gate.parameters())
        assert model.backbone.resolve_execution() == 'masked_query'
    hook.before_train_iter(_runner(model, 3), 3)
    assert not any(p.requires_grad for p in gate.parameters())
    assert model.backbone.resolve_execution() == 'packed'
    others = [p for n, p in model.named_parameters() if '.gate.' not in n]
    assert others and all(p.requires_grad for p in others)


def test_resumed_run_is_frozen_again():
    model = _model()
    FreezeGateHook(gate_iters=3).before_train_iter(_runner(model, 7), 0)
    assert model.backbone.resolve_execution() == 'packed'


def test_refuses_what_it_cannot_do(monkeypatch):
    with pytest.raises(ValueError, match='gate_iters'):
        FreezeGateHook(gate_iters=-1)
    with pytest.raises(ValueError, match='learned gate'):
        FreezeGateHook(2).before_train(_runner(_model(dict(type='RandomGate')), 0))
    # distributed without find_unused_parameters: DDP would wait for the gate's gradients
    monkeypatch.setattr(gate_schedule, 'is_model_wrapper', lambda m: True)
    wrapper = SimpleNamespace(module=_model(), find_unused_parameters=False)
    with pytest.raises(ValueError, match='find_unused_parameters'):
        FreezeGateHook(2).before_train(_runner(wrapper, 0))
    wrapper.find_unused_parameters = True
    FreezeGateHook(2).before_train(_runner(wrapper, 0))
    FreezeGateHook(10).before_train(_runner(SimpleNamespace(module=_model(),
                                                            find_unused_parameters=False), 0))


def test_frozen_gate_step_updates_nothing_of_the_gate():
    model = _model()
    FreezeGateHook(0).before_train_iter(_runner(model, 0), 0)
    torch.manual_seed(0)
    losses = model.loss(*_batch(2))
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    gate = model.backbone.tokenizer.gate
    assert all(p.grad is None for p in gate.parameters())
    assert model.decode_head.conv_seg.weight.grad is not None
