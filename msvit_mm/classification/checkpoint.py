"""Classifier checkpoints (timm / DeiT, mmpretrain, MSViT) for ``MSViTImageClassifier``.

The backbone part goes through the segmentation backbone's converter
(``msvit_mm.models.backbones.pretrained``: format detection, renaming, layer-scale
folding, ``pos_embed`` resizing); the head and the ``avg_featmap`` norm are mapped here:

====================================  =======================================
source                                model
====================================  =======================================
timm / DeiT ``head.*``                ``head.layers.head.*`` (``VisionTransformerClsHead``)
                                      or ``head.fc.*`` (``LinearClsHead``)
mmpretrain ``head.layers.head.*``,    the same head's linear layer
``head.fc.*``
timm ``pre_logits.fc.*``, mmpretrain  ``head.layers.pre_logits.*``
``head.layers.pre_logits.*``
timm ``fc_norm.*``, mmpretrain        ``backbone.ln2.*`` (``out_type='avg_featmap'``)
``ln2.*``
====================================  =======================================

DeiT's distillation head (``head_dist.*``) is ignored. Files are read by the project's
checked reader (tensors only unless trusted, finite weights).
"""
import re
from typing import Dict, Mapping, Optional, Tuple

from torch import Tensor, nn

from ..models.backbones.pretrained import (LoadReport, StateDict, convert_checkpoint,
                                           fit_to_model, read_checkpoint, unwrap_state_dict)

HEAD_LINEARS = ('layers.head', 'fc')  # VisionTransformerClsHead, LinearClsHead
NORM_KEYS = re.compile(r'^(fc_norm|ln2)\.(weight|bias)$')


def split_classifier(state: StateDict) -> Tuple[StateDict, StateDict, StateDict, Dict[str, str]]:
    """A classifier state dict -> (backbone, head, avg norm, ignored), source names kept
    (``backbone.`` / ``head.`` / ``module.`` prefixes taken off).

    timm / DeiT and bare mmpretrain ViTs hold the backbone at the top level with ``head.*``
    / ``pre_logits.*`` / ``fc_norm.*`` beside it; mmpretrain and MSViT classifiers hold
    ``backbone.*`` and ``head.*``.
    """
    if all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    backbone, head, norm, ignored = {}, {}, {}, {}
    nested = any(k.startswith('backbone.') for k in state)
    for key, value in state.items():
        inner = key[len('backbone.'):] if nested and key.startswith('backbone.') else key
        if nested and inner is key and not key.startswith('head.'):
            ignored[key] = 'outside the backbone and the head'
        elif NORM_KEYS.match(inner):
            norm['ln2.' + inner.split('.')[-1]] = value
        elif key.startswith('head.'):
            head[key[len('head.'):]] = value
        elif re.match(r'^pre_logits\.fc\.(weight|bias)$', key):
            head['layers.pre_logits.' + key.split('.')[-1]] = value
        elif key.startswith('head_dist.'):
            ignored[key] = 'distillation head'
        else:
            backbone[inner] = value
    return backbone, head, norm, ignored


def map_head(source: StateDict, expected: Mapping[str, Tuple[int, ...]], filename: str
             ) -> StateDict:
    """Source head keys (without ``head.``) -> the model head's keys (``expected``).

    The source's final linear layer (timm's bare ``weight``/``bias``, or one of
    ``HEAD_LINEARS``) becomes the model's; other keys keep their names. Raises ValueError
    naming the file for keys or shapes that do not fit.
    """
    target = [p for p in HEAD_LINEARS if f'{p}.weight' in expected]
    if not target:
        raise ValueError(f'{filename}: the model head has none of '
                         f'{[p + ".weight" for p in HEAD_LINEARS]}; cannot map a head into it')
    out = {}
    for key, value in source.items():
        m = re.match(r'^(?:(?:layers\.head|fc)\.)?(weight|bias)$', key)
        out[f'{target[0]}.{m.group(1)}' if m else key] = value
    extra = sorted(set(out) - set(expected))
    wrong = [f'head.{k}: checkpoint {list(v.shape)} vs model {list(expected[k])}'
             for k, v in out.items() if k in expected and tuple(v.shape) != tuple(expected[k])]
    if extra or wrong:
        raise ValueError(f'{filename}: the classification head does not fit the model: '
                         f'unexpected {["head." + k for k in extra]}, {wrong} (num_classes or '
                         'hidden_dim differ? init_cfg load_head=False loads the backbone only)')
    return out


def load_classifier_checkpoint(model: nn.Module, filename: str, load_head: bool = True,
                               source_grid: Optional[Tuple[int, int]] = None) -> LoadReport:
    """Load a classifier checkpoint into ``model`` (an MSViT ``ImageClassifier``) in place.

    Every model weight must come from the file except the gate (``tokenizer.gate.*``), the
    gate losses' learned priors (``gate_losses.*``), and the head with ``load_head=False``;
    every file weight must be used or known to be ignorable (see the module). Returns the report; errors name ``filename``.
    """
    checkpoint = read_checkpoint(filename)
    backbone, head, norm, ignored = split_classifier(unwrap_state_dict(checkpoint, filename))
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    grid = source_grid or (meta or {}).get('pos_embed_grid')
    bb = model.backbone
    state, report, _ = convert_checkpoint(backbone, filename, bb.pos_hw, grid, bb.interpolate_mode)
    report.ignored.update(ignored)
    expected = {k: tuple(v.shape) for k, v in bb.state_dict().items()}
    if norm and 'ln2.weight' in expected:
        state.update(norm)
    elif norm:
        report.ignored.update({k: "the model's out_type has no ln2" for k in norm})
    state = {f'backbone.{k}': v for k, v in fit_to_model(state, report, expected).items()}
    if load_head and model.head is not None:
        head_expected = {k: tuple(v.shape) for k, v in model.head.state_dict().items()}
        state.update({f'head.{k}': v for k, v in map_head(head, head_expected, filename).items()})
    elif head:
        report.ignored.update({f'head.{k}': 'load_head=False' for k in head})
    missing, unexpected = model.load_state_dict(state, strict=False)
    lacking = [k for k in missing if '.tokenizer.gate.' not in k
               and not k.startswith('gate_losses.')  # learned priors of the gate losses
               and not (k == 'backbone.cls_token' and not bb.with_cls_token)  # unused
               and not (k.startswith('head.') and not load_head)]
    if lacking or unexpected:
        raise ValueError(f'{filename}: the checkpoint does not cover the classifier: missing '
                         f'{lacking[:10]}, unexpected {unexpected[:10]}')
    report.initialized = missing
    return report
