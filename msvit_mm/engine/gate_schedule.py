"""Two-phase training: the gate learns first, then is frozen and the rest trains packed.

With ``execution='auto'`` an MSViT runs ``'masked_query'`` while its gate learns and
packed (only the tokens that exist) once it does not (:attr:`BaseGate.is_learning`).
:class:`FreezeGateHook` freezes the gate after ``gate_iters`` iterations, so the rest of the
run trains packed at the cost of the tokens the gate keeps::

    custom_hooks = [dict(type='RNGStateHook'), dict(type='FreezeGateHook', gate_iters=8000)]

The state is derived from ``runner.iter`` before every iteration, so a resumed run is
frozen again. Under distributed training the frozen parameters stop getting gradients,
which ``DistributedDataParallel`` accepts only with ``find_unused_parameters=True``.
"""
import logging
import math
import numbers

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS
from torch import nn


def _model(runner) -> nn.Module:
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


def _gate(runner) -> nn.Module:
    model = _model(runner)
    gate = getattr(getattr(getattr(model, 'backbone', None), 'tokenizer', None), 'gate', None)
    if gate is None or not getattr(gate, 'learned', False):
        raise ValueError(f'FreezeGateHook needs an MSViT backbone with a learned gate; '
                         f'{type(model).__name__} has none (model.backbone.tokenizer.gate)')
    return gate


@HOOKS.register_module()
class FreezeGateHook(Hook):
    """Freeze the learned gate (``requires_grad=False``) from iteration ``gate_iters`` on.

    Args:
        gate_iters: training iterations in which the gate learns (>= 0; 0 = frozen from
            the start, e.g. to fine-tune the rest of a trained MSViT packed).
    """

    priority = 'NORMAL'

    def __init__(self, gate_iters: int):
        integral = isinstance(gate_iters, numbers.Integral) or (
            isinstance(gate_iters, numbers.Real) and math.isfinite(gate_iters)
            and float(gate_iters).is_integer())
        if isinstance(gate_iters, bool) or not integral or gate_iters < 0:
            raise ValueError(f'FreezeGateHook: gate_iters={gate_iters!r} must be a non-negative '
                             'integer (the iterations in which the gate learns; 0 = frozen '
                             'from the start)')
        self.gate_iters = int(gate_iters)

    def before_train(self, runner) -> None:
        _gate(runner)
        model = _model(runner)
        # 'auto' and the query forms run packed once the gate is frozen
        if model.backbone.execution in ('masked', 'packed'):
            print_log(f"FreezeGateHook: execution={model.backbone.execution!r} trains the same "
                      "way before and after the gate is frozen; two phases (the gate learning, "
                      "then packed) need execution='auto' or a query form", logger='current',
                      level=logging.WARNING)
        if self.gate_iters >= runner.max_iters:
            print_log(f'FreezeGateHook: gate_iters={self.gate_iters} >= max_iters='
                      f'{runner.max_iters}: the gate is never frozen in this run (it learns '
                      'throughout, masked)', logger='current', level=logging.WARNING)
        wrapped = is_model_wrapper(runner.model)
        if (wrapped and self.gate_iters < runner.max_iters
                and not getattr(runner.model, 'find_unused_parameters', True)):
            raise ValueError(
                'FreezeGateHook: the gate stops getting gradients at iteration '
                f'{self.gate_iters} of {runner.max_iters}; DistributedDataParallel then needs '
                'find_unused_parameters = True in the config')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if runner.iter < self.gate_iters:
            return
        params = [p for p in _gate(runner).parameters() if p.requires_grad]
        if params:
            for p in params:
                p.requires_grad_(False)
            print_log(f'FreezeGateHook: gate frozen at iteration {runner.iter} '
                      f'({len(params)} tensors); training continues packed',
                      logger='current')
