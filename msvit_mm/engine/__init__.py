from .finite_loss import FiniteLossHook
from .gate_schedule import FreezeGateHook
from .reproducible_resume import RNGStateHook, ReproducibleIterBasedTrainLoop

__all__ = ['FiniteLossHook', 'FreezeGateHook', 'RNGStateHook', 'ReproducibleIterBasedTrainLoop']
