from .gate_schedule import FreezeGateHook
from .reproducible_resume import RNGStateHook, ReproducibleIterBasedTrainLoop

__all__ = ['FreezeGateHook', 'RNGStateHook', 'ReproducibleIterBasedTrainLoop']
