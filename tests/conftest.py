"""Test-wide setup: mmseg's modules registered and 'mmseg' as the default registry scope."""
import os

import pytest
from mmseg.utils import register_all_modules

import msvit_mm  # noqa: F401

os.environ.setdefault('PYTHONWARNINGS', 'ignore')


@pytest.fixture(scope='session', autouse=True)
def mmseg_scope():
    register_all_modules(init_default_scope=True)
