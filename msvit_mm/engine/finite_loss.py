"""Stop training when the loss stops being a number.

mmengine 0.10.7 has no such check by default (``OptimWrapper``'s ``clip_grad`` with
``error_if_nonfinite=True`` checks the gradient norm, but only where gradients are
clipped): a diverged run goes on training NaN weights and writes NaN checkpoints, and
exits 0. :class:`FiniteLossHook` raises after the first iteration whose loss is NaN or Inf,
before ``CheckpointHook`` (lower priority) saves that iteration; ``tools/train.py`` adds it
to every run::

    custom_hooks = [dict(type='FiniteLossHook')]
"""
import math

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

__all__ = ['FiniteLossHook', 'NonFiniteLossError']


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or Inf."""


def _value(v) -> float:
    try:
        return float(v.detach().float().mean()) if hasattr(v, 'detach') else float(v)
    except (TypeError, ValueError):
        return 0.0  # not a number (a tensor of several values is averaged above)


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` when the training loss is NaN or Inf.

    Args:
        max_consecutive: how many consecutive non-finite iterations are tolerated before
            the error (1: the first one stops training). Under ``AmpOptimWrapper`` a few
            overflowing steps are skipped by the loss scaler and may be tolerated.
    """

    priority = 'ABOVE_NORMAL'  # before LoggerHook and CheckpointHook

    def __init__(self, max_consecutive: int = 1):
        if (isinstance(max_consecutive, bool) or not isinstance(max_consecutive, int)
                or max_consecutive < 1):
            raise ValueError(f'FiniteLossHook: max_consecutive={max_consecutive!r} must be an '
                             'integer >= 1')
        self.max_consecutive = max_consecutive
        self._streak = 0

    def before_train(self, runner) -> None:
        self._streak = 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        values = {k: _value(v) for k, v in (outputs or {}).items() if 'loss' in k}
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        self._streak = self._streak + 1 if bad else 0
        if self._streak < self.max_consecutive:
            return
        shown = ', '.join(f'{k}={v:.4g}' for k, v in values.items())
        raise NonFiniteLossError(
            f'training stopped at iteration {runner.iter + 1}: the loss is not finite '
            f'({shown}); no checkpoint of this iteration is written (those in '
            f'{runner.work_dir} are from before). Causes: a learning rate too high, a '
            'pretrained or load_from checkpoint with extreme weights, a NaN in the config (a '
            'loss weight). Lower the learning rate or clip gradients (optim_wrapper.clip_grad).')
