"""Gates: per region and per image, one coarse token or fine ones.

A gate is one class in one file, registered in mmseg's ``MODELS``, that checks its own
arguments and holds their defaults; a backbone names it with ``gate=dict(type=...)``
(:func:`build_gate`), the only way to configure one.
"""
from .base import BaseGate, GateOutput
from .build import build_gate, registered_gates
from .fixed_gate import FixedGate
from .mlp_gate import MLPGate
from .pixel_stat_gate import PixelStatGate
from .random_gate import RandomGate
from .residual_rule_gate import ResidualRuleGate
from .removed import refuse_removed

__all__ = ['BaseGate', 'GateOutput', 'FixedGate', 'MLPGate', 'PixelStatGate', 'RandomGate',
           'ResidualRuleGate', 'build_gate', 'refuse_removed', 'registered_gates']
