"""Gates: per region and per image, one coarse token or fine ones.

A gate is one class in one file, registered in mmseg's ``MODELS``; a backbone names it with
``gate=dict(type=...)``. :func:`gate_from_mode` turns the ``gate_mode=`` shorthand into such
a config.
"""
from typing import Optional, Sequence

from .base import BaseGate, GateOutput
from .fixed_gate import FixedGate
from .mlp_gate import MLPGate
from .pixel_stat_gate import PixelStatGate
from .random_gate import RandomGate

GATE_MODES = ('learned', 'all_fine', 'all_coarse', 'random')


def gate_from_mode(gate_mode: str = 'learned', gate_threshold: float = 0.5,
                   gumbel_temperature: float = 1.0, random_coarse_ratio: float = 0.5,
                   gate_hidden_dims: Optional[Sequence[int]] = (128, 128, 128)) -> dict:
    """The gate config a ``gate_mode`` string stands for (the shorthand of earlier configs).

    'learned' -> ``MLPGate``, 'all_fine' / 'all_coarse' -> ``FixedGate``, 'random' ->
    ``RandomGate(coarse_ratio=random_coarse_ratio)``.
    """
    for name, value in (('gate_threshold', gate_threshold),
                        ('random_coarse_ratio', random_coarse_ratio)):
        if not 0. <= value <= 1.:
            raise ValueError(f'{name}={value} must lie in [0, 1]')
    if not gumbel_temperature > 0:
        raise ValueError(f'gumbel_temperature={gumbel_temperature} must be > 0')
    if gate_mode == 'learned':
        return dict(type='MLPGate', hidden_dims=tuple(gate_hidden_dims),
                    threshold=gate_threshold, temperature=gumbel_temperature)
    if gate_mode in ('all_fine', 'all_coarse'):
        return dict(type='FixedGate', coarse=gate_mode == 'all_coarse')
    if gate_mode == 'random':
        return dict(type='RandomGate', coarse_ratio=random_coarse_ratio)
    raise ValueError(f'gate_mode={gate_mode!r} is not one of {GATE_MODES}')


__all__ = ['BaseGate', 'GateOutput', 'FixedGate', 'MLPGate', 'PixelStatGate', 'RandomGate',
           'GATE_MODES', 'gate_from_mode']
