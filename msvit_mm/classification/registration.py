"""The project's training parts, also where an mmpretrain config (``default_scope='mmpretrain'``)
looks for them.

A config names hooks, loops and transforms by type; mmengine builds them from the default
scope's registry and its parents, never from a sibling's, so the parts registered in mmseg's
registries (``import msvit_mm``) are registered in mmpretrain's too: the same classes.
"""
from mmpretrain import registry as cls_registry
from mmseg import registry as seg_registry

SHARED = {
    'HOOKS': ('FiniteLossHook', 'RNGStateHook', 'FreezeGateHook'),
    'LOOPS': ('ReproducibleIterBasedTrainLoop',),
    'TRANSFORMS': ('CheckedLoadImageFromFile',),
}


def register_shared() -> None:
    """Register each of :data:`SHARED` (from mmseg's registries) in mmpretrain's; idempotent."""
    for name, types in SHARED.items():
        source, target = getattr(seg_registry, name), getattr(cls_registry, name)
        for type_name in types:
            cls = source.get(type_name)
            if cls is None:
                raise KeyError(f'{type_name} is not registered in mmseg {name} (import msvit_mm)')
            if target.get(type_name) is not cls:
                target.register_module(name=type_name, module=cls, force=True)
