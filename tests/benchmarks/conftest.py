"""Fixtures shared with the tool tests: the tiny embedded dataset and an untrained small
MSViT checkpoint (tests/tools/)."""
from tests.tools.conftest import tiny_data_root  # noqa: F401
from tests.tools.test_gate_quality import checkpoint  # noqa: F401
