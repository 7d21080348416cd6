"""Helpers shared by test modules (not fixtures: plain functions)."""
import importlib.util
import os.path as osp
import socket
from types import ModuleType

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_module(path: str, name: str) -> ModuleType:
    """Import the Python file ``path`` (e.g. a script under ``tools/``) as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for a process group's master)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def scaled_tol(expected, rel: float) -> dict:
    """``dict(rtol=0, atol=rel * max|expected|)`` for ``torch.testing.assert_close`` or
    ``numpy.testing.assert_allclose``.

    Two float computations of the same value in another order (threads, SIMD width, fused
    kernels) differ by rounding errors that grow with the size of the values summed, not with
    the size of each result: an element near 0 inside a tensor whose largest entry is 28 can be
    off by 1e-5 in float32. So the tolerance is a fraction ``rel`` of the largest reference
    value (float32 has 24 bits: 1e-5 is about 80 ulps of that value).
    """
    ref = torch.as_tensor(expected).detach()
    scale = ref.abs().max().item() if ref.numel() else 0.0
    return dict(rtol=0.0, atol=rel * scale)


def assert_close_scaled(actual, expected, rel: float = 1e-5, msg=None) -> None:
    """``torch.testing.assert_close`` with :func:`scaled_tol` (see there)."""
    torch.testing.assert_close(actual, expected, msg=msg, **scaled_tol(expected, rel))
