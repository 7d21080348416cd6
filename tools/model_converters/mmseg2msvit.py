"""Convert a trained mmseg ViT segmentor (backbone, neck, heads) to an MSViT segmentor's weights.

    python tools/model_converters/mmseg2msvit.py SRC DST --config CONFIG [--cfg-options k=v ...]

SRC is a whole mmseg segmentor checkpoint (``EncoderDecoder`` with a ``VisionTransformer``,
e.g. mmseg's released DeiT-S/16 UPerNet ADE20K model); CONFIG the MSViT config it is for
(``configs/msvit/msvit-s-ft_upernet_8xb2-16k_ade20k-512x512.py``). The backbone goes through
``vit2msvit.py``'s conversion (timm, mmseg or mmpretrain names, ``pos_embed`` to the config's
grid); the neck and heads are copied as they are. A patch-embedding bias that the config's
model has no place for (mmseg 1.x builds its ViT with ``patch_bias=False``) is folded into
``pos_embed``: both are added to every token before the first layer, so the values are equal.

Every weight of the MSViT model must come from SRC except MSViT's own (``MSVIT_ONLY``: the gate
and the gate losses' learned priors), which keep their initialization and are listed; a
missing, unexpected or mis-shaped weight is an error naming it (with its source name). SRC is
read tensors-only and refused when a weight is NaN or Inf. The output
``{'state_dict': ..., 'meta': ...}`` is written atomically, never over SRC, and is the
config's ``load_from`` (with ``load_from_missing_ok`` naming ``MSVIT_ONLY``).
"""
import argparse
import os.path as osp
import pickle
import sys
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from torch import Tensor, nn  # noqa: E402

from msvit_mm.engine.checkpoints import (check_checkpoint_path, check_finite,  # noqa: E402
                                         key_mismatch_lines)
from msvit_mm.models.backbones.pretrained import (LoadReport,  # noqa: E402
                                                  convert_checkpoint, read_checkpoint,
                                                  unwrap_state_dict)
from vit2msvit import check_output, save_atomic  # noqa: E402

# Weights of an MSViT segmentor that no ViT segmentor has: they keep their initialization.
MSVIT_ONLY = ('backbone.tokenizer.', 'gate_losses.')
PATCH_BIAS = 'patch_embed.projection.bias'
Shapes = Mapping[str, Sequence[int]]


def split_segmentor(state: Mapping[str, Tensor], filename: str
                    ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
    """A segmentor's state dict -> (backbone weights without ``backbone.``, the others)."""
    if state and all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    backbone = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    rest = {k: v for k, v in state.items() if not k.startswith('backbone.')}
    if not backbone or not rest:
        raise ValueError(
            f'{filename}: not a whole segmentor checkpoint (it holds {len(backbone)} '
            f'"backbone.*" and {len(rest)} other weights; first keys {list(state)[:5]}). '
            'For a backbone alone use tools/model_converters/vit2msvit.py')
    return backbone, rest


def fold_patch_bias(backbone: Dict[str, Tensor], expected: Shapes, report: LoadReport) -> None:
    """Move ``patch_embed.projection.bias`` [C] into ``pos_embed`` [1, 1 + h*w, C] (grid
    positions only) of the converted ``backbone`` (in place) when the model has no patch
    bias. Exact: both are added to every token before the first layer, a coarse token's
    position is the mean of its fine ones, and resizing the grid keeps a constant. Needs no
    norm after the projection."""
    if PATCH_BIAS not in backbone or f'backbone.{PATCH_BIAS}' in expected:
        return
    if 'backbone.patch_embed.norm.weight' in expected or 'pos_embed' not in backbone:
        raise ValueError(f'the checkpoint has backbone.{PATCH_BIAS} and this MSViT config has '
                         'none: set model.backbone.patch_bias=True (it cannot be folded into '
                         'pos_embed with patch_norm=True or without a pos_embed)')
    bias = backbone.pop(PATCH_BIAS)
    pos = backbone['pos_embed'].clone()
    pos[:, 1:] += bias.to(pos.dtype)
    backbone['pos_embed'] = pos
    report.converted['pos_embed'] = f'pos_embed + {PATCH_BIAS}'
    report.notes.append(f'backbone.{PATCH_BIAS} folded into pos_embed (the model has '
                        'patch_bias=False; same values)')


def fit_errors(state: Mapping[str, Tensor], expected: Shapes, sources: Mapping[str, str],
               num_shown: int = 10) -> List[str]:
    """What keeps ``state`` from being exactly ``expected`` less ``MSVIT_ONLY``: one line per
    kind (missing / unexpected / shape), keys named with their source names."""
    def named(key: str) -> str:
        return f'{key} (from {sources[key]})' if sources.get(key, key) != key else key

    missing = [k for k in expected if k not in state and not k.startswith(MSVIT_ONLY)]
    unexpected = [named(k) for k in state if k not in expected]
    shapes = [f'{named(k)}: checkpoint {list(v.shape)} vs model {list(expected[k])}'
              for k, v in state.items() if k in expected and tuple(v.shape) != tuple(expected[k])]
    return key_mismatch_lines((('missing from the checkpoint', missing),
                               ('not in the MSViT model', unexpected),
                               ('of another shape', shapes)), num_shown)


def convert_segmentor(checkpoint: Mapping, filename: str, expected: Shapes,
                      target_grid: Tuple[int, int]) -> Tuple[Dict[str, Tensor], LoadReport]:
    """An mmseg ViT segmentor checkpoint -> (the MSViT segmentor's state dict, report).

    Args:
        checkpoint: what ``read_checkpoint`` returned (weights under ``state_dict`` or not).
        filename: named in errors.
        expected: the MSViT segmentor's state dict keys -> shapes.
        target_grid: its backbone's position grid (``img_size // patch_size``).

    Returns:
        every key of ``expected`` except ``MSVIT_ONLY`` (in its order), and the report
        (``initialized``: the ``MSVIT_ONLY`` keys).

    Raises:
        ValueError naming the keys when the checkpoint does not fit.
    """
    backbone, rest = split_segmentor(unwrap_state_dict(checkpoint, filename), filename)
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    state, report, _ = convert_checkpoint(dict(state_dict=backbone, meta=meta or {}), filename,
                                          target_grid)
    fold_patch_bias(state, expected, report)
    if report.ignored:
        raise ValueError(f'{filename}: the backbone has weights MSViT would drop: '
                         f'{sorted(report.ignored)[:10]}; the models differ')
    sources = {f'backbone.{k}': f'backbone.{v}' for k, v in report.converted.items()}
    state = {f'backbone.{k}': v for k, v in state.items()}
    state.update(rest)
    errors = fit_errors(state, expected, sources)
    if errors:
        raise ValueError(f'{filename} does not fit the MSViT segmentor of the config '
                         f'({len(expected)} weights): ' + '; '.join(errors) +
                         '. Same neck, heads, channels, classes and backbone depth/width?')
    check_finite(dict(state_dict=state), f'{filename} (converted)')
    report.format = f'mmseg segmentor, {report.format} backbone'
    report.initialized = [k for k in expected if k.startswith(MSVIT_ONLY)]
    report.loaded = [k for k in state if k[len('backbone.'):] not in report.converted
                     and k[len('backbone.'):] not in report.resized]
    return {k: state[k] for k in expected if k in state}, report


def build_model(config: str, cfg_options: Optional[dict] = None) -> nn.Module:
    """The MSViT segmentor of ``config`` (``cfg_options`` merged), without pretrained weights."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import msvit_mm  # noqa: F401  (registers MSViT)
    from mmseg.registry import MODELS
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    cfg.model.pretrained = None
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    if not hasattr(model.backbone, 'pos_hw'):
        raise ValueError(f'{config}: the backbone is {type(model.backbone).__name__}, not MSViT')
    return model


def target_of(model: nn.Module) -> Tuple[Dict[str, Tuple[int, ...]], Tuple[int, int]]:
    """An MSViT segmentor's (state dict shapes, backbone position grid)."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}, model.backbone.pos_hw


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='mmseg segmentor checkpoint (path or URL)')
    parser.add_argument('dst', help='output checkpoint path (the config\'s load_from)')
    parser.add_argument('--config', required=True, help='the MSViT config the output is for')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides of the config, as in tools/train.py')
    return parser.parse_args(argv)


def convert_file(src: str, dst: str, config: str, cfg_options: Optional[dict] = None) -> dict:
    """Convert ``src`` for the MSViT segmentor of ``config`` (with ``cfg_options`` merged) and
    write it to ``dst``; prints the report. Returns what was written."""
    check_output(dst, src)
    if '://' not in src and not osp.isfile(osp.expanduser(src)):
        check_checkpoint_path(osp.expanduser(src))  # a folder is named as one
    expected, grid = target_of(build_model(config, cfg_options))
    state, report = convert_segmentor(read_checkpoint(src), src, expected, grid)
    meta = dict(converted_from=src, source_format=report.format, config=config,
                pos_embed_grid=list(grid), left_at_initialization=report.initialized)
    save_atomic(dict(state_dict=state, meta=meta), dst)
    print(report.summary())
    print(f'  neck and heads: {sum(not k.startswith("backbone.") for k in state)} weights '
          'copied as they are; the weights left at initialization are MSViT\'s own '
          f'({len(report.initialized)}), not written')
    print(f'saved {len(state)} tensors to {dst}')
    return dict(state_dict=state, meta=meta)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    return convert_file(args.src, args.dst, args.config, args.cfg_options)


if __name__ == '__main__':
    try:
        main()
    except (OSError, ValueError, RuntimeError, pickle.UnpicklingError) as err:
        sys.exit(f'mmseg2msvit: {err}')
