"""The gate benchmark's runs: one base config each and the overrides that make the run.

Every entry: ``base`` (a file of this folder), ``gate`` (the whole ``model.backbone.gate``),
``gate_loss`` (the whole ``model.gate_loss``, learned gates only; others have none) and
``cfg`` (further settings, merged into the base as mmengine merges a child config: dicts key
by key, anything else replaced). ``group``: 'stage1' (trained first, every stage-2 run starts
from its weights), 'benchmark' (run by default) or 'lever' (a variant of
``target0.5-gbas-weight5`` with one change or two, run with ``--runs``).

Names spell out what differs: ``target0.5`` the gate loss's target coarse ratio, ``gbas`` /
``rate`` the loss (generalized batch shaping / the plain target rate), ``weight5`` its
weight, then the lever. ``OLD_NAMES`` maps the config names of earlier results
(``configs/gate_benchmark/<old>_upernet_1xb8-s2-300_synthetic-bench-128x128.py``) to these.
"""
from typing import Dict

FINE = dict(type='FixedGate', coarse=False)  # every region fine: ViT/16
COARSE = dict(type='FixedGate', coarse=True)  # every region coarse: ViT/32 on the pooled image
MLP = dict(type='MLPGate', hidden_dims=(64, 64, 64))  # 64 wide, as the small MSViT
TWO_PHASES = [dict(type='RNGStateHook'), dict(type='FreezeGateHook', gate_iters=100)]
PACKED = dict(model=dict(backbone=dict(execution='packed')))
SEED1 = dict(randomness=dict(seed=1))


def gbas(target: float = 0.5, weight: float = 5.0) -> dict:
    return dict(type='GeneralizedBatchShapingLoss', target_coarse_ratio=target,
                grid_size=(4, 4), loss_weight=weight)


def merged(*parts: dict) -> dict:
    """Nested dicts merged left to right (for the ``cfg`` of runs with two changes)."""
    out: dict = {}
    for part in parts:
        for key, value in part.items():
            both = isinstance(value, dict) and isinstance(out.get(key), dict)
            out[key] = merged(out[key], value) if both else value
    return out


def _fixed(gate: dict, group: str = 'benchmark', base: str = 'stage2.py') -> dict:
    return dict(base=base, gate=gate, gate_loss=None, cfg={}, group=group)


def _learned(gate_loss, gate: dict = MLP, cfg: dict = None, group: str = 'lever') -> dict:
    return dict(base='stage2_learned.py', gate=gate, gate_loss=gate_loss, cfg=cfg or {},
                group=group)


RUNS: Dict[str, dict] = {
    'stage1-vit-t16': _fixed(FINE, 'stage1', 'stage1.py'),
    # the benchmark: three budgets, each with the learned gate, chance and the entropy rule
    'target0.5-gbas-weight5': _learned(gbas(0.5), group='benchmark'),
    'random-coarse0.5': _fixed(dict(type='RandomGate', coarse_ratio=0.5)),
    'entropy-coarse0.5': _fixed(dict(type='PixelStatGate', statistic='entropy',
                                     coarse_ratio=0.5)),
    'vit-t16-continued': _fixed(FINE),
    'vit-t32': _fixed(COARSE),
    'target0.25-gbas-weight5': _learned(gbas(0.25), group='benchmark'),
    'random-coarse0.25': _fixed(dict(type='RandomGate', coarse_ratio=0.25)),
    'entropy-coarse0.25': _fixed(dict(type='PixelStatGate', statistic='entropy',
                                      coarse_ratio=0.25)),
    'target0.75-gbas-weight5': _learned(gbas(0.75), group='benchmark'),
    'random-coarse0.75': _fixed(dict(type='RandomGate', coarse_ratio=0.75)),
    'entropy-coarse0.75': _fixed(dict(type='PixelStatGate', statistic='entropy',
                                      coarse_ratio=0.75)),
    # levers: each a change to target0.5-gbas-weight5
    'target0.5-gbas-weight5-within': _learned(
        [gbas(), dict(type='WithinImageShapingLoss', target_coarse_ratio=0.5, loss_weight=5.0)]),
    'target0.5-gbas-weight5-packed': _learned(gbas(), cfg=PACKED),
    'target0.5-gbas-weight5-labelloss': _learned(
        [gbas(), dict(type='GateLabelLoss', loss_weight=1.0)]),
    'target0.5-rate-weight5': _learned(
        dict(type='TargetRateLoss', target_coarse_ratio=0.5, loss_weight=5.0)),
    'target0.5-gbas-weight5-coarseonly': _learned(gbas(), dict(MLP, estimator='coarse_only')),
    'target0.5-gbas-weight5-within-coarseonly': _learned(
        [gbas(), dict(type='WithinImageShapingLoss', target_coarse_ratio=0.5, loss_weight=5.0)],
        dict(MLP, estimator='coarse_only')),
    'target0.5-gbas-weight5-packed-finemean': _learned(gbas(), cfg=dict(model=dict(
        backbone=dict(execution='packed', packed_counterfactual='fine_mean')))),
    'target0.5-gbas-weight5-twophase': _learned(gbas(), cfg=dict(custom_hooks=TWO_PHASES)),
    'target0.5-gbas-weight5-seed1': _learned(gbas(), cfg=SEED1),
    'target0.5-gbas-weight5-packed-seed1': _learned(gbas(), cfg=merged(PACKED, SEED1)),
    'target0.5-gbas-weight5-twophase-seed1': _learned(
        gbas(), cfg=dict(custom_hooks=TWO_PHASES, **SEED1)),
    'target0.5-gbas-weight1': _learned(gbas(weight=1.0)),
    'target0.5-gbas-weight5-gatelr100': _learned(gbas(), cfg=dict(
        optim_wrapper=dict(paramwise_cfg=dict(custom_keys={
            'tokenizer.gate': dict(lr_mult=100.0, decay_mult=0.0),
            'gate_losses': dict(lr_mult=100.0, decay_mult=0.0)})))),
    'target0.5-gbas-weight5-temperature0.5': _learned(gbas(), dict(MLP, temperature=0.5)),
    'target0.5-gbas-weight5-gateonly': _learned(gbas(), cfg=dict(
        model=dict(backbone=dict(frozen_exclude=['tokenizer.gate'])),
        optim_wrapper=dict(paramwise_cfg=dict(custom_keys={
            'decode_head': dict(lr_mult=0.0, decay_mult=0.0),
            'auxiliary_head': dict(lr_mult=0.0, decay_mult=0.0)})))),
    'target0.5-gbas-weight1-packed': _learned(gbas(weight=1.0), cfg=PACKED),
    'target0.5-gbas-weight1-seed1': _learned(gbas(weight=1.0), cfg=SEED1),
    'target0.5-gbas-weight1-packed-seed1': _learned(gbas(weight=1.0), cfg=merged(PACKED, SEED1)),
    'target0.5-gbas-weight1-twophase': _learned(gbas(weight=1.0),
                                                cfg=dict(custom_hooks=TWO_PHASES)),
}

OLD_SUFFIX = '_upernet_1xb8-s2-300_synthetic-bench-128x128'
OLD_NAMES: Dict[str, str] = {
    'vit-t16_upernet_1xb8-800_synthetic-bench-128x128': 'stage1-vit-t16',
    'vit-t16-cont': 'vit-t16-continued', 'vit-t32': 'vit-t32',
    **{f'random-{r}': f'random-coarse{r}' for r in ('0.25', '0.5', '0.75')},
    **{f'entropy-{r}': f'entropy-coarse{r}' for r in ('0.25', '0.5', '0.75')},
    **{f'msvit-t-t{r}': f'target{r}-gbas-weight5' for r in ('0.25', '0.5', '0.75')},
    'msvit-t-t0.5-within': 'target0.5-gbas-weight5-within',
    'msvit-t-t0.5-packed': 'target0.5-gbas-weight5-packed',
    'msvit-t-t0.5-label': 'target0.5-gbas-weight5-labelloss',
    'msvit-t-t0.5-rate': 'target0.5-rate-weight5',
    'msvit-t-t0.5-conly': 'target0.5-gbas-weight5-coarseonly',
    'msvit-t-t0.5-within-conly': 'target0.5-gbas-weight5-within-coarseonly',
    'msvit-t-t0.5-packedcf': 'target0.5-gbas-weight5-packed-finemean',
    'msvit-t-t0.5-twophase': 'target0.5-gbas-weight5-twophase',
    'msvit-t-t0.5-seed1': 'target0.5-gbas-weight5-seed1',
    'msvit-t-t0.5-packed-seed1': 'target0.5-gbas-weight5-packed-seed1',
    'msvit-t-t0.5-twophase-seed1': 'target0.5-gbas-weight5-twophase-seed1',
    'msvit-t-t0.5-w1': 'target0.5-gbas-weight1',
    'msvit-t-t0.5-lr100': 'target0.5-gbas-weight5-gatelr100',
    'msvit-t-t0.5-t05': 'target0.5-gbas-weight5-temperature0.5',
    'msvit-t-t0.5-gateonly': 'target0.5-gbas-weight5-gateonly',
    'msvit-t-t0.5-w1-packed': 'target0.5-gbas-weight1-packed',
    'msvit-t-t0.5-w1-seed1': 'target0.5-gbas-weight1-seed1',
    'msvit-t-t0.5-w1-packed-seed1': 'target0.5-gbas-weight1-packed-seed1',
    'msvit-t-t0.5-w1-twophase': 'target0.5-gbas-weight1-twophase',
}


def new_name(name: str) -> str:
    """The run name of ``name``, which may be an old config name (with or without its
    suffix); a current name is returned as it is."""
    short = name[:-len(OLD_SUFFIX)] if name.endswith(OLD_SUFFIX) else name
    return OLD_NAMES.get(short, short)
