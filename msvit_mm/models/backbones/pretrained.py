"""Pretrained ViT weights (timm / DeiT, mmseg, mmpretrain) for MSViT: pure functions.

A checkpoint goes through ``convert_checkpoint`` (find the state dict, detect its format,
rename to mmseg's ``VisionTransformer`` names, which MSViT shares, fold layer scales, bring
``pos_embed`` to one cls position + the target grid) and ``fit_to_model`` (check the result
against the model's parameter shapes). ``load_pretrained`` chains them after reading a file.

Formats, detected from the keys (after ``module.`` / ``backbone.`` prefixes are taken off):

- ``timm`` (timm, DeiT, mmseg's ``vit2mmseg.py`` input): ``blocks.*``, ``patch_embed.proj.*``,
  ``norm.*``; often under a ``model`` key.
- ``mmpretrain``: ``layers.N.attn.qkv.*``, ``layers.N.attn.proj.*``, ``pre_norm.*``,
  layer scales ``attn.gamma1`` / ``ffn.gamma2``.
- ``mmseg`` (``vit2mmseg.py`` output, mmseg or MSViT training checkpoints):
  ``layers.N.attn.attn.in_proj_*``.
"""
import math
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

Grid = Tuple[int, int]
StateDict = Dict[str, Tensor]

# Every key of an mmseg ViT / MSViT backbone state dict.
MSVIT_KEY = re.compile(
    r'(cls_token|pos_embed|patch_embed\.(projection|norm)\.(weight|bias)'
    r'|(ln1|ln_pre)\.(weight|bias)|layers\.\d+\.(ln1|ln2)\.(weight|bias)'
    r'|layers\.\d+\.attn\.attn\.(in_proj_weight|in_proj_bias|out_proj\.weight|out_proj\.bias)'
    r'|layers\.\d+\.ffn\.layers\.(0\.0|1)\.(weight|bias)|tokenizer\..+)$')
# Source keys that MSViT has no use for: classifier heads, distillation / register tokens,
# mmpretrain's ``avg_featmap`` norm.
IGNORABLE = re.compile(
    r'((head|head_dist|fc_norm|pre_logits|attn_pool|ln2)\..+|head|dist_token|reg_token)$')
RENAMES = {
    'timm': [
        (r'^norm\.', 'ln1.'), (r'^norm_pre\.', 'ln_pre.'),
        (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
        (r'^blocks\.(\d+)\.norm(1|2)\.', r'layers.\1.ln\2.'),
        (r'^blocks\.(\d+)\.attn\.qkv\.(weight|bias)$', r'layers.\1.attn.attn.in_proj_\2'),
        (r'^blocks\.(\d+)\.attn\.proj\.', r'layers.\1.attn.attn.out_proj.'),
        (r'^blocks\.(\d+)\.mlp\.fc1\.', r'layers.\1.ffn.layers.0.0.'),
        (r'^blocks\.(\d+)\.mlp\.fc2\.', r'layers.\1.ffn.layers.1.')],
    'mmpretrain': [
        (r'^pre_norm\.', 'ln_pre.'),
        (r'^layers\.(\d+)\.attn\.qkv\.(weight|bias)$', r'layers.\1.attn.attn.in_proj_\2'),
        (r'^layers\.(\d+)\.attn\.proj\.', r'layers.\1.attn.attn.out_proj.')],
    'mmseg': [],
}
# Layer scale (per-channel gain after a linear layer) -> the linear layer it is folded into.
LAYER_SCALES = {
    'timm': [(r'^blocks\.(\d+)\.ls1\.gamma$', r'layers.\1.attn.attn.out_proj'),
             (r'^blocks\.(\d+)\.ls2\.gamma$', r'layers.\1.ffn.layers.1')],
    'mmpretrain': [(r'^layers\.(\d+)\.attn\.gamma1\.weight$', r'layers.\1.attn.attn.out_proj'),
                   (r'^layers\.(\d+)\.ffn\.gamma2\.weight$', r'layers.\1.ffn.layers.1')],
    'mmseg': [],
}
# Model keys a checkpoint may carry while the configuration has none: dropped, as mmseg does.
OPTIONAL = {'patch_embed.projection.bias': 'the model has patch_bias=False (set it True to use it)',
            'ln1.weight': 'the model has final_norm=False',
            'ln1.bias': 'the model has final_norm=False'}


@dataclass
class LoadReport:
    """What happened to every key: ``converted`` / ``resized`` / ``ignored`` map key -> how."""

    source: str
    format: str = ''
    loaded: List[str] = field(default_factory=list)
    converted: Dict[str, str] = field(default_factory=dict)
    resized: Dict[str, str] = field(default_factory=dict)
    initialized: List[str] = field(default_factory=list)
    ignored: Dict[str, str] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f'pretrained weights from {self.source} ({self.format} format): '
                 f'{len(self.loaded)} loaded as they are, {len(self.converted)} converted, '
                 f'{len(self.resized)} resized, {len(self.initialized)} left at initialization, '
                 f'{len(self.ignored)} ignored']
        lines += [f'  resized {k}: {how}' for k, how in self.resized.items()]
        if self.converted:
            lines.append(f'  converted: {compact(self.converted)}')
        if self.initialized:
            lines.append(f'  left at initialization: {compact(self.initialized)}')
        for why in sorted(set(self.ignored.values())):
            keys = [k for k, w in self.ignored.items() if w == why]
            lines.append(f'  ignored ({why}): {compact(keys)}')
        return '\n'.join(lines + [f'  note: {n}' for n in self.notes])


def compact(keys: Sequence[str]) -> str:
    """``['layers.0.ln1.weight', 'layers.1.ln1.weight']`` -> ``'layers.*.ln1.weight (x2)'``."""
    counts: Dict[str, int] = {}
    for k in keys:
        k = re.sub(r'\.mlp\.\d+\.', '.mlp.*.', re.sub(r'^(layers|blocks)\.\d+\.', r'\1.*.', k))
        counts[k] = counts.get(k, 0) + 1
    return ', '.join(k if n == 1 else f'{k} (x{n})' for k, n in counts.items())


def unwrap_state_dict(checkpoint: Mapping, filename: str) -> StateDict:
    """The tensor dict of a checkpoint: itself or under ``state_dict`` / ``model`` / ``module``."""
    state = checkpoint
    for key in ('state_dict', 'model', 'module'):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping) or not state:
        raise ValueError(f'{filename}: no state dict found in the checkpoint '
                         f'(a {type(checkpoint).__name__}); expected a dict of tensors, '
                         'possibly under "state_dict" or "model"')
    bad = [k for k, v in state.items() if not isinstance(v, Tensor)]
    if bad:
        raise ValueError(f'{filename}: the state dict holds non-tensor entries {bad[:5]}; '
                         'is it a model checkpoint?')
    return dict(state)


def split_backbone(state: StateDict) -> Tuple[StateDict, Dict[str, str]]:
    """Strip ``module.``; keep only ``backbone.*`` when present. Returns (state, ignored)."""
    if all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    if not any(k.startswith('backbone.') for k in state):
        return state, {}
    ignored = {k: 'outside the backbone' for k in state if not k.startswith('backbone.')}
    return {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}, ignored


def detect_format(keys: Sequence[str]) -> Optional[str]:
    """'timm' | 'mmpretrain' | 'mmseg' from the key names, None for anything else."""
    if any(k.startswith(('blocks.', 'patch_embed.proj.')) for k in keys):
        return 'timm'
    if any(re.match(r'layers\.\d+\.attn\.(qkv|proj)\.', k) for k in keys) or \
            any(k.startswith('pre_norm.') for k in keys):
        return 'mmpretrain'
    if any(re.match(r'layers\.\d+\.attn\.attn\.', k) for k in keys):
        return 'mmseg'
    return None


def fold_layer_scale(weight: Tensor, bias: Optional[Tensor], gamma: Tensor
                     ) -> Tuple[Tensor, Optional[Tensor]]:
    """``gamma * (x W^T + b)`` as one linear layer: W [out, in], b [out], gamma [out]."""
    return gamma[:, None] * weight, None if bias is None else gamma * bias


def rename_keys(state: StateDict, fmt: str, filename: str, report: LoadReport) -> StateDict:
    """Source names -> MSViT names; layer scales folded; ignorable keys dropped.

    Raises ValueError naming ``filename`` for keys that are neither MSViT weights nor known
    to be ignorable.
    """
    out, scales, unknown = {}, {}, []
    for key, value in state.items():
        scale = [re.sub(p, r, key) for p, r in LAYER_SCALES[fmt] if re.match(p, key)]
        new = key
        for pattern, repl in RENAMES[fmt]:
            new = re.sub(pattern, repl, new)
        if scale:
            scales[scale[0]] = (key, value)
        elif IGNORABLE.match(key):
            report.ignored[key] = 'not used by MSViT (classifier head, extra token or norm)'
        elif MSVIT_KEY.match(new):
            out[new] = value
            if new != key:
                report.converted[new] = key
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(
            f'{filename}: {len(unknown)} key(s) of this {fmt}-format checkpoint are neither '
            f'ViT backbone weights MSViT can use nor known to be ignorable: {unknown[:20]}. '
            'Is it a plain ViT (no qk-norm, SwiGLU, relative position bias)?')
    for target, (key, gamma) in scales.items():
        weight, bias = out.get(f'{target}.weight'), out.get(f'{target}.bias')
        if weight is None:
            raise ValueError(f'{filename}: layer scale {key} has no linear layer {target}')
        out[f'{target}.weight'], folded_bias = fold_layer_scale(weight, bias, gamma)
        if folded_bias is not None:
            out[f'{target}.bias'] = folded_bias
        source = report.converted.get(f'{target}.weight', f'{target}.weight')
        report.converted[f'{target}.weight'] = f'{source} * {key}'
    return out


def pos_layout(num_tokens: int, num_prefix: int, target_grid: Optional[Grid] = None,
               source_grid: Optional[Grid] = None) -> Tuple[int, Grid]:
    """(prefix tokens inside pos_embed, source grid) for a pos_embed of ``num_tokens``.

    ``num_prefix`` counts the prefix tokens of the checkpoint (cls + dist + registers); a
    pos_embed holds either all of them or none (timm's ``no_embed_class``). The grid is
    ``source_grid`` when given, else square, else ``target_grid`` when the count fits it.
    """
    for prefix in dict.fromkeys((num_prefix, 0)):
        n = num_tokens - prefix
        if source_grid is not None:
            if n == source_grid[0] * source_grid[1]:
                return prefix, tuple(source_grid)
            continue
        side = math.isqrt(max(n, 0))
        if n > 0 and side * side == n:
            return prefix, (side, side)
        if target_grid is not None and n == target_grid[0] * target_grid[1]:
            return prefix, tuple(target_grid)
    raise ValueError(f'a pos_embed of {num_tokens} tokens with {num_prefix} prefix token(s) fits '
                     f'no grid (source grid {source_grid}, target {target_grid}); give the '
                     "source grid (init_cfg=dict(..., source_grid=(h, w)) or --source-grid)")


def resize_pos_embed(pos: Tensor, num_prefix: int, source_grid: Grid, target_grid: Grid,
                     mode: str = 'bicubic') -> Tensor:
    """[1, P + h*w, C] -> [1, 1 + H*W, C]: keep the first prefix (cls) position or put a zero
    one when P = 0, drop the others, resize the grid like mmseg's ``resize_pos_embed``."""
    cls_pos = pos[:, :1] if num_prefix else pos.new_zeros(1, 1, pos.shape[-1])
    grid = pos[:, num_prefix:]
    if tuple(source_grid) != tuple(target_grid):
        grid = grid.reshape(1, *source_grid, -1).permute(0, 3, 1, 2)  # NLC -> NCHW
        grid = F.interpolate(grid, size=tuple(target_grid), mode=mode, align_corners=False)
        grid = grid.flatten(2).transpose(1, 2)  # NCHW -> NLC
    return torch.cat([cls_pos, grid], dim=1)


def convert_pos_embed(state: StateDict, source_state: StateDict, report: LoadReport,
                      target_grid: Optional[Grid], source_grid: Optional[Grid],
                      mode: str) -> Optional[Grid]:
    """Bring ``state['pos_embed']`` to one cls position + ``target_grid`` (in place).

    Returns the grid the result holds (None without a pos_embed).
    """
    if 'pos_embed' not in state:
        return None
    pos = state['pos_embed']
    num_prefix = sum(k in source_state for k in ('cls_token', 'dist_token')) + (
        source_state['reg_token'].shape[1] if 'reg_token' in source_state else 0)
    prefix, grid = pos_layout(pos.shape[1], num_prefix, target_grid, source_grid)
    target = tuple(target_grid or grid)
    if prefix > 1:
        report.notes.append(f'dropped {prefix - 1} extra prefix token position(s) of pos_embed '
                            '(distillation / register tokens); the cls position is kept')
    if prefix == 0:
        report.notes.append('pos_embed has no cls position; MSViT gets a zero one')
    new = resize_pos_embed(pos, prefix, grid, target, mode)
    if new.shape != pos.shape or grid != target:
        report.resized['pos_embed'] = (f'{list(pos.shape)} grid {grid[0]}x{grid[1]} -> '
                                       f'{list(new.shape)} grid {target[0]}x{target[1]} ({mode})')
    state['pos_embed'] = new
    return target


def convert_checkpoint(checkpoint: Mapping, filename: str, target_grid: Optional[Grid] = None,
                       source_grid: Optional[Grid] = None, mode: str = 'bicubic'
                       ) -> Tuple[StateDict, LoadReport, Optional[Grid]]:
    """Any supported checkpoint -> (MSViT-named state dict, report, grid of its pos_embed).

    ``target_grid`` None keeps the source grid. ``source_grid`` None reads the grid our
    converter stores in ``meta['pos_embed_grid']``, else infers it (see ``pos_layout``).
    """
    report = LoadReport(source=filename)
    state, report.ignored = split_backbone(unwrap_state_dict(checkpoint, filename))
    fmt = detect_format(list(state))
    if fmt is None:
        raise ValueError(f'{filename} is not a ViT checkpoint in a format MSViT knows (timm/DeiT '
                         '"blocks.*", mmseg or mmpretrain "layers.*"); its first keys are '
                         f'{list(state)[:8]}')
    report.format = fmt
    out = rename_keys(state, fmt, filename, report)
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    if source_grid is None and isinstance(meta, Mapping) and meta.get('pos_embed_grid'):
        source_grid = tuple(meta['pos_embed_grid'])
    try:
        grid = convert_pos_embed(out, state, report, target_grid, source_grid, mode)
    except ValueError as err:
        raise ValueError(f'{filename}: {err}') from err
    return out, report, grid


def fit_to_model(state: StateDict, report: LoadReport, expected: Mapping[str, Sequence[int]]
                 ) -> StateDict:
    """Keep the keys the model has (``expected``: key -> shape); fill ``report``.

    Raises ValueError naming the file for keys the model lacks (other than ``OPTIONAL``) or
    shapes that differ.
    """
    extra = [k for k in state if k not in expected]
    for key in [k for k in extra if k in OPTIONAL]:
        report.ignored[report.converted.get(key, key)] = OPTIONAL[key]
    extra = [k for k in extra if k not in OPTIONAL]
    if extra:
        named = [f'{k} (from {report.converted[k]})' if k in report.converted else k
                 for k in extra[:20]]
        raise ValueError(f'{report.source}: the checkpoint has {len(extra)} weight(s) this MSViT '
                         f'configuration lacks: {", ".join(named)} '
                         '(num_layers, pre_norm or qkv_bias differ?)')
    state = {k: v for k, v in state.items() if k in expected}
    wrong = [f'{k}: checkpoint {list(v.shape)} vs model {list(expected[k])}'
             for k, v in state.items() if tuple(v.shape) != tuple(expected[k])]
    if wrong:
        raise ValueError(f'{report.source}: shapes differ from this MSViT configuration '
                         f'(embed_dims, patch_size, mlp_ratio?): {wrong[:10]}')
    report.converted = {k: v for k, v in report.converted.items() if k in state}
    report.loaded = [k for k in state if k not in report.converted and k not in report.resized]
    report.initialized = [k for k in expected if k not in state]
    return state


def missing_checkpoint_message(filename: str) -> str:
    """What to do when the pretrained checkpoint ``filename`` is not there."""
    return (
        f'pretrained checkpoint not found: {filename}\n'
        'Options:\n'
        '  * download DeiT-S: https://dl.fbaipublicfiles.com/deit/'
        f'deit_small_patch16_224-cd65a155.pth and save it as {filename};\n'
        '  * or ViT-S AugReg from timm, vit_small_patch16_224.augreg_in21k_ft_in1k: '
        'torch.save(timm.create_model(name, pretrained=True).state_dict(), path), or the '
        'pytorch_model.bin of '
        'https://huggingface.co/timm/vit_small_patch16_224.augreg_in21k_ft_in1k;\n'
        '  * timm/DeiT, mmseg and mmpretrain ViT checkpoints load as they are; to convert one '
        'offline: python tools/model_converters/vit2msvit.py SRC DST;\n'
        '  * or train from scratch: --cfg-options model.pretrained=None '
        '(and model.backbone.init_cfg=None if your config sets it).')


def read_checkpoint(filename: str) -> Mapping:
    """Read a checkpoint with mmengine's ``CheckpointLoader`` (on CPU); errors name the file."""
    from mmengine.runner.checkpoint import CheckpointLoader

    from ...engine.checkpoints import check_checkpoint_path, check_finite
    if '://' not in filename and osp.isdir(osp.expanduser(filename)):
        check_checkpoint_path(osp.expanduser(filename))  # names it a directory
    if '://' not in filename and not osp.isfile(osp.expanduser(filename)):
        raise FileNotFoundError(missing_checkpoint_message(filename))
    try:
        checkpoint = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    except FileNotFoundError as err:
        raise FileNotFoundError(missing_checkpoint_message(filename)) from err
    except Exception as err:  # truncated, corrupted or not a torch file
        if filename in str(err):
            raise
        raise RuntimeError(f'cannot read pretrained checkpoint {filename!r}: '
                           f'{type(err).__name__}: {err}') from err
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f'{filename}: expected a checkpoint dict, got {type(checkpoint).__name__}')
    check_finite(checkpoint, filename)  # local files were checked on reading; URLs here
    return checkpoint


def load_pretrained(filename: str, expected: Mapping[str, Sequence[int]], target_grid: Grid,
                    source_grid: Optional[Grid] = None, mode: str = 'bicubic'
                    ) -> Tuple[StateDict, LoadReport]:
    """Read ``filename`` and convert it for a model with parameter shapes ``expected``.

    Args:
        filename: checkpoint path (or URL) in any supported format.
        expected: the model's state dict keys -> shapes.
        target_grid: the model's position grid (img_size // patch_size), (H, W).
        source_grid: the checkpoint's position grid when it is not square.
        mode: interpolation of the position grid.

    Returns:
        (state dict to ``load_state_dict(strict=False)``, report).
    """
    state, report, _ = convert_checkpoint(read_checkpoint(filename), filename, target_grid,
                                          source_grid, mode)
    return fit_to_model(state, report, expected), report
