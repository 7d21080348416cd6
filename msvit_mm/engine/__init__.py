from .reproducible_resume import RNGStateHook, ReproducibleIterBasedTrainLoop

__all__ = ['RNGStateHook', 'ReproducibleIterBasedTrainLoop']
