"""Building a gate from its config, with the checks that name a wrong one."""
from typing import Optional

from mmseg.registry import MODELS

from .base import BaseGate

# what the tokenizer gives every gate, keyed by the argument the tokenizer itself takes
PASSED = (('in_channels', 'in_channels'), ('region_size', 'coarse_patch_size'))


def registered_gates() -> list:
    """Names of the registered :class:`BaseGate` subclasses."""
    return sorted(name for name, cls in MODELS.module_dict.items()
                  if isinstance(cls, type) and issubclass(cls, BaseGate))


def build_gate(cfg: Optional[dict], in_channels: int, coarse_patch_size: int) -> BaseGate:
    """The gate ``cfg`` names, for ``in_channels``-channel images and regions of
    ``coarse_patch_size`` pixels. None: ``MLPGate()`` (the learned gate, its defaults).

    The gate's own constructor checks its arguments; this checks that ``cfg`` is a gate
    config (a dict whose ``type`` is a registered :class:`BaseGate`) and that it sets no
    ``in_channels`` or ``region_size`` other than the tokenizer's.
    """
    cfg = dict(type='MLPGate') if cfg is None else cfg
    if not isinstance(cfg, dict):
        hint = f' (write gate=dict(type={cfg!r}))' if isinstance(cfg, str) else ''
        raise TypeError('gate must be a config dict such as dict(type=\'MLPGate\'), got '
                        f'{type(cfg).__name__} {cfg!r}{hint}')
    kind = cfg.get('type')
    cls = kind if isinstance(kind, type) else MODELS.get(kind) if isinstance(kind, str) else None
    if not (isinstance(cls, type) and issubclass(cls, BaseGate)):
        what = 'has no type' if kind is None else (
            f'type {kind!r} is not registered' if cls is None else
            f'type {kind!r} is a registered module but not a gate (a BaseGate subclass)')
        raise TypeError(f'gate={dict(cfg)!r}: {what}; the gates are {registered_gates()}')
    given = dict(in_channels=in_channels, region_size=coarse_patch_size)
    for key, own in PASSED:
        if key in cfg and cfg[key] != given[key]:
            raise ValueError(f'gate {key}={cfg[key]!r} but {own}={given[key]}: the tokenizer '
                             f'passes its own {key} to the gate; leave it out of the gate '
                             'config')
    return MODELS.build(dict(cfg, **given))
