"""Exact resume: a resumed run draws the same random numbers as the uninterrupted one.

mmengine restores weights, optimizer, schedulers and the sampler position on resume, but not
the random number generators: the Gumbel noise of the gate (torch), the data augmentation
(numpy, random) and dropout start again from the seed, so a resumed run drifts from the
uninterrupted one. Two pieces fix that:

- :class:`RNGStateHook` stores every rank's torch / CUDA / numpy / random state in the
  message hub after each training iteration, before ``CheckpointHook`` saves it (the message
  hub is part of every mmengine checkpoint);
- :class:`ReproducibleIterBasedTrainLoop` restores them on resume *after* skipping the data
  already trained on (the skip itself runs the data pipeline and draws random numbers).
"""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from mmseg.registry import HOOKS, LOOPS

INFO_KEY = 'msvit_rng_states'


def capture_rng_state() -> dict:
    """This process's generator states (torch CPU, CUDA if present, numpy, random)."""
    state = dict(torch=torch.get_rng_state(), numpy=np.random.get_state(),
                 random=random.getstate())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state['torch'])
    np.random.set_state(state['numpy'])
    random.setstate(state['random'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Record all ranks' generator states after each training iteration (see module doc)."""

    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW) saves the message hub

    def __init__(self, interval: Optional[int] = None):
        if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int)
                                     or interval < 1):
            raise ValueError(f'RNGStateHook: interval={interval!r} must be a positive integer '
                             "or None (None: the CheckpointHook's interval)")
        self.interval = interval

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        interval = self.interval or _checkpoint_interval(runner)
        if interval and (runner.iter + 1) % interval and runner.iter + 1 != runner.max_iters:
            return
        runner.message_hub.update_info(INFO_KEY, all_gather_object(capture_rng_state()))


def _checkpoint_interval(runner) -> int:
    for hook in runner.hooks:
        if type(hook).__name__ == 'CheckpointHook':
            return hook.interval
    return 1


@LOOPS.register_module()
class ReproducibleIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` that restores the recorded generator states after a resume."""

    def run(self):
        """``IterBasedTrainLoop.run`` with the generator states restored after the skip."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            print_log(f'Advance dataloader {self._iter} steps to skip data that has already '
                      'been trained', logger='current')
            for _ in range(self._iter):
                next(self.dataloader_iterator)
            self._restore_rng()
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def _restore_rng(self) -> None:
        states = self.runner.message_hub.get_info(INFO_KEY)
        if not states:
            print_log('resumed checkpoint holds no generator states (no RNGStateHook): '
                      'the run continues with fresh random numbers', logger='current')
            return
        restore_rng_state(states[get_rank() % len(states)])
