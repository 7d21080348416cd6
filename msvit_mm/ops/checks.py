"""Argument checks shared by the batch-shaping math, the gate losses and the gates (plain Python).

Each raises ``ValueError`` naming the argument and the value it got.
"""
import math
import numbers
from typing import Sequence


def is_real(value: object) -> bool:
    """A real number (int, float, numpy scalar), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_open_unit(name: str, value: object) -> float:
    """``value`` in (0, 1); returned as float."""
    if not (is_real(value) and 0.0 < value < 1.0):
        raise ValueError(f'{name} must be in the open interval (0, 1), got {value!r}')
    return float(value)


def check_positive(name: str, value: object) -> float:
    """``value`` finite and > 0; returned as float."""
    if not (is_real(value) and math.isfinite(value) and value > 0):
        raise ValueError(f'{name} must be a positive finite number, got {value!r}')
    return float(value)


def check_non_negative(name: str, value: object) -> float:
    """``value`` finite and >= 0 (a loss weight); returned as float."""
    if not (is_real(value) and math.isfinite(value) and value >= 0):
        raise ValueError(f'{name} must be a non-negative finite number, got {value!r}')
    return float(value)


def check_unit_interval(name: str, value: object) -> float:
    """``value`` in the closed interval [0, 1] (a probability or share); returned as float."""
    if not (is_real(value) and 0.0 <= value <= 1.0):
        raise ValueError(f'{name} must be a number in [0, 1], got {value!r}')
    return float(value)


def check_int_at_least(name: str, value: object, low: int) -> int:
    """``value`` an integer (not a bool) >= ``low``; returned as int."""
    if not (isinstance(value, numbers.Integral) and not isinstance(value, bool)
            and value >= low):
        raise ValueError(f'{name} must be an integer >= {low}, got {value!r}')
    return int(value)


def check_pdf_clip(pdf_clip: Sequence[float]) -> tuple:
    """``(min, max)`` with ``0 <= min <= max``; returned as a float pair."""
    if not (len(pdf_clip) == 2 and 0.0 <= pdf_clip[0] <= pdf_clip[1]):
        raise ValueError(f'pdf_clip must be (min, max) with 0 <= min <= max, got {pdf_clip!r}')
    return float(pdf_clip[0]), float(pdf_clip[1])
