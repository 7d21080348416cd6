"""Helpers shared by test modules (not fixtures: plain functions)."""
import importlib.util
import os.path as osp
from types import ModuleType

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_module(path: str, name: str) -> ModuleType:
    """Import the Python file ``path`` (e.g. a script under ``tools/``) as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
