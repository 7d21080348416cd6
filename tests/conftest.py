"""Test-wide setup: mmseg's modules registered, 'mmseg' the default registry scope per test."""
import os

import pytest
from mmengine.registry import init_default_scope
from mmseg.utils import register_all_modules

import msvit_mm  # noqa: F401

os.environ.setdefault('PYTHONWARNINGS', 'ignore')
register_all_modules(init_default_scope=False)


@pytest.fixture(autouse=True)
def mmseg_scope():
    """A Runner built by a test (e.g. with default_scope='mmengine') changes the current
    scope; every test starts again from mmseg's."""
    init_default_scope('mmseg')
