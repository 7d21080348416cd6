"""The removed gate shorthand: passing it is an error that spells the gate config it meant."""
from typing import Mapping

REMOVED = ('gate_mode', 'gate_threshold', 'gumbel_temperature', 'random_coarse_ratio',
           'gate_hidden_dims')
_MLP_ARGS = dict(gate_threshold='threshold', gumbel_temperature='temperature',
                 gate_hidden_dims='hidden_dims')
_FIXED = dict(all_fine="type='FixedGate', coarse=False",
              all_coarse="type='FixedGate', coarse=True")


def new_form(old: Mapping[str, object]) -> str:
    """The ``gate=dict(...)`` that the removed arguments ``old`` stood for."""
    mode = old.get('gate_mode', 'learned')
    if mode in _FIXED:
        return f'gate=dict({_FIXED[mode]})'
    if mode == 'random':
        ratio = old.get('random_coarse_ratio', 0.5)
        return f"gate=dict(type='RandomGate', coarse_ratio={ratio!r})"
    if mode == 'learned':
        args = ''.join(f', {new}={old[k]!r}' for k, new in _MLP_ARGS.items() if k in old)
        return f"gate=dict(type='MLPGate'{args})"
    return ("gate=dict(type='MLPGate' | 'FixedGate' | 'RandomGate' | 'PixelStatGate', ...), "
            'see msvit_mm.models.gates')


def refuse_removed(owner: str, kwargs: Mapping[str, object], others: bool = False) -> None:
    """Raise ``TypeError`` when ``kwargs`` (extra keyword arguments of ``owner``) hold a
    removed shorthand argument, naming the gate config to write instead; with ``others``
    False, also when they hold anything else."""
    old = {k: kwargs[k] for k in REMOVED if k in kwargs}
    if old:
        given = ', '.join(f'{k}={v!r}' for k, v in old.items())
        raise TypeError(f'{owner}: {given}: the gate shorthand was removed; use '
                        f'{new_form(old)} (in a config: model.backbone.gate)')
    if kwargs and not others:
        raise TypeError(f'{owner} got unexpected keyword arguments {sorted(kwargs)}')
