"""Test probe, loaded with custom_imports in a training subprocess: the process SIGKILLs
itself after iteration ``MSVIT_KILL_AT`` (1-based), once that iteration's hooks have run
(CheckpointHook included): a kill mid-run, between two checkpoints."""
import os
import signal

from mmengine.hooks import CheckpointHook

_after_train_iter = CheckpointHook.after_train_iter


def _then_kill(self, runner, batch_idx, data_batch=None, outputs=None):
    _after_train_iter(self, runner, batch_idx, data_batch, outputs)
    if runner.iter + 1 == int(os.environ['MSVIT_KILL_AT']):
        os.kill(os.getpid(), signal.SIGKILL)


CheckpointHook.after_train_iter = _then_kill
