"""MSViT backbone: mmseg's VisionTransformer with a mixed-scale tokenizer."""
from typing import Dict, Optional, Tuple

import torch.nn.functional as F
from mmengine.logging import print_log
from mmseg.models.backbones import VisionTransformer
from mmseg.registry import MODELS
from torch import Tensor

from ...ops.layouts import COUNTERFACTUALS
from ...ops.patchify import grid_size, seq_to_map
from ...ops.query_layout import check_image_share, check_query_share
from ..gates import refuse_removed
from ..tokenizers.mixed_scale_tokens import (EXECUTIONS as RUN_EXECUTIONS, QUERY_EXECUTIONS,
                                             MixedScaleTokens)
from .layer_forward import run_layers
from .patch_pad import check_patch_pad
from .query_layer_forward import run_query_layers
from .pretrained import load_pretrained

EXECUTIONS = ('auto',) + RUN_EXECUTIONS  # RUN_EXECUTIONS: what one forward runs


@MODELS.register_module()
class MSViT(VisionTransformer):
    """Vision Transformer with dynamic mixed-scale tokens (MSViT, arXiv 2307.02321).

    Takes every argument of mmseg's ``VisionTransformer`` with the same meaning
    (``patch_size`` is the fine scale) and parameter names (``patch_embed.*``, ``pos_embed``,
    ``cls_token``, ``layers.*``, ``ln1.*``), so a ``VisionTransformer`` state dict loads
    with only ``tokenizer.gate.*`` missing. Extra arguments:

    Args:
        coarse_patch_size: coarse region size (power-of-two multiple of ``patch_size``).
        gate: the gate's config, the only way to set one: ``dict(type='MLPGate',
            threshold=0.5, temperature=1.0, hidden_dims=(128, 128, 128))`` (learned; None
            or no ``gate``: ``MLPGate()``), ``dict(type='FixedGate', coarse=False)`` (=
            ViT/16; ``coarse=True``: ViT/32 on the pooled image), ``dict(type='RandomGate',
            coarse_ratio=0.5)``, ``dict(type='PixelStatGate', statistic='entropy',
            coarse_ratio=0.5)``. Each gate holds its defaults and checks its arguments; see
            ``msvit_mm.models.gates``.
        execution: 'auto' (the default: 'masked_query' while the gate is learning, i.e. a
            learned gate with trainable parameters in training mode, packed otherwise; MSViT's
            own estimator, whose straight-through gradient compares both scales, at less than
            masked execution's cost: docs/cheap_gate_training.md), 'masked' (all
            tokens of both scales, attention masked by the decisions) or 'packed' (only the
            tokens that exist, concatenated over the batch). Same values for the same
            decisions; a learning gate gets another gradient (how the gate then trains:
            docs/training_speed.md). 'packed_query': packed, plus the fine tokens of a
            random ``query_share`` of each image's coarse regions as query-only tokens that
            feed only the gate's straight-through gradient (docs/cheap_gate_training.md);
            'masked_query': masked's values and gradients, its absent tokens as query-only
            tokens over the packed ones (no N x N mask). Both run packed while the gate
            does not learn.
        query_share: 'packed_query' only: the share of each image's coarse regions sampled
            (at least one), in (0, 1].
        query_image_share: both query forms: the share of each batch's images that get
            query tokens (at least one, drawn per step), in (0, 1]; the other images run
            packed alone and pass no task gradient to the gate, the sampled ones' gate
            gradient is scaled by B / sampled (docs/cheap_gate_training.md). 1 (the
            default): every image, no draw.
        packed_counterfactual: a learning gate trained packed: what stands in for the scale
            that did not run in the gate's straight-through gradient. 'zero' (absent tokens
            read as zeros: the gradient sees only the chosen scale's output) or
            'fine_mean' (a fine region's coarse alternative is the mean of its fine
            outputs; coarse regions get no task gradient). Masked execution needs none (it
            runs both scales); values never depend on it.
        coarse_aggregation: None (the default) or ``'subpatch_linear'``: APT's coarse token,
            the pooled embedding plus a zero-initialized projection of its sub-patch
            embeddings (``MixedScaleTokenizer``; parameters ``tokenizer.aggregation.*``).

    ``forward(x)`` [B, in_channels, H, W] returns a tuple of [B, C, ceil(H/16), ceil(W/16)]
    maps at ``out_indices``, coarse tokens repeated over their cells, like mmseg's ViT.
    ``forward_with_aux(x)`` also returns the gate outputs and token statistics.
    """

    # what execution='auto' runs while the gate learns: masked execution's values and
    # gradients without its dense masked attention (docs/cheap_gate_training.md)
    auto_learning_execution = 'masked_query'

    def __init__(self, *args, coarse_patch_size: int = 32, gate: Optional[dict] = None,
                 execution: str = 'auto', packed_counterfactual: str = 'zero',
                 query_share: float = 0.5, query_image_share: float = 1.,
                 coarse_aggregation: Optional[str] = None, **kwargs):
        refuse_removed('MSViT', kwargs, others=True)  # the rest is VisionTransformer's
        if execution not in EXECUTIONS:
            raise ValueError(f'execution={execution!r} is not one of {EXECUTIONS}')
        if packed_counterfactual not in COUNTERFACTUALS:
            raise ValueError(f'packed_counterfactual={packed_counterfactual!r} is not one of '
                             f'{COUNTERFACTUALS}')
        self.query_share = check_query_share(query_share)
        self.query_image_share = check_image_share(query_image_share)
        super().__init__(*args, **kwargs)
        check_patch_pad(self.patch_embed)
        self.in_channels = self.patch_embed.projection.in_channels  # also when positional
        self.execution = execution
        self.packed_counterfactual = packed_counterfactual
        self.tokenizer = MODELS.build(dict(
            type='MixedScaleTokenizer', in_channels=self.in_channels,
            patch_size=self.patch_size, coarse_patch_size=coarse_patch_size, gate=gate,
            coarse_aggregation=coarse_aggregation,
            embed_dims=self.patch_embed.projection.out_channels))
        self._freeze()  # mmseg's ViT froze before the gate existed (frozen_exclude)

    def init_weights(self) -> None:
        """Default (trunc-normal) init, then ``init_cfg=dict(type='Pretrained', ...)`` weights.

        The checkpoint may be timm/DeiT, mmseg or mmpretrain ViT weights (see
        ``pretrained.py``); ``pos_embed`` is resized to the ``img_size`` grid, and what the
        checkpoint lacks (the gate ``tokenizer.gate.*``) keeps its fresh initialization.
        Optional ``init_cfg`` key: ``source_grid=(h, w)`` for a non-square checkpoint grid.
        """
        cfg = self.init_cfg
        if not (isinstance(cfg, dict) and cfg.get('type') == 'Pretrained'):
            super().init_weights()
            return
        self.init_cfg = None  # mmseg's ViT then runs its default init
        try:
            super().init_weights()
        finally:
            self.init_cfg = cfg
        expected = {k: tuple(v.shape) for k, v in self.state_dict().items()}
        state, report = load_pretrained(str(cfg['checkpoint']), expected, self.pos_hw,
                                        cfg.get('source_grid'), self.interpolate_mode)
        self.load_state_dict(state, strict=False)
        print_log(report.summary(), logger='current')

    def train(self, mode: bool = True) -> 'MSViT':
        super().train(mode)  # mmseg's ViT.train() returns None; nn.Module's returns self
        return self

    @property
    def pos_hw(self) -> Tuple[int, int]:
        """The grid ``pos_embed`` holds: ``img_size // patch_size`` (floor, as mmseg's ViT)."""
        return self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size

    def fine_pos_embed(self, hw: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        """Position embeddings for a fine grid ``hw``: ([1, C, h, w], cls [1, 1, C]).

        Resized with ``interpolate_mode`` from the ``img_size`` grid as mmseg's ViT does
        (``resize_pos_embed``), in map form.
        """
        pos = seq_to_map(self.pos_embed[:, 1:], self.pos_hw)
        if tuple(hw) != self.pos_hw:
            pos = F.interpolate(pos, size=tuple(hw), mode=self.interpolate_mode,
                                align_corners=False)
        return pos, self.pos_embed[:, :1]

    def resolve_execution(self, execution: Optional[str] = None) -> str:
        """The execution of the next forward: ``execution`` if given (one of
        ``RUN_EXECUTIONS``), else the backbone's own ('auto': 'masked_query', masked
        execution's values and gradients, only while the gate learns; 'packed_query' /
        'masked_query': those while the gate learns; packed, the same values, otherwise)."""
        if execution is not None:
            if execution not in RUN_EXECUTIONS:
                raise ValueError(f'execution={execution!r} is not one of {RUN_EXECUTIONS} '
                                 "(or None: the backbone's own)")
            return execution
        learning = self.tokenizer.gate.is_learning
        if self.execution == 'auto':
            return self.auto_learning_execution if learning else 'packed'
        if self.execution in QUERY_EXECUTIONS and not learning:
            return 'packed'
        return self.execution

    def forward(self, x: Tensor) -> tuple:
        return self.forward_with_aux(x)[0]

    def forward_with_aux(self, x: Tensor, coarse_mask: Optional[Tensor] = None,
                         execution: Optional[str] = None, counterfactual: Optional[str] = None,
                         query_share: Optional[float] = None,
                         query_image_share: Optional[float] = None
                         ) -> Tuple[tuple, Dict[str, Tensor]]:
        """Features and gate outputs.

        Args:
            x: [B, in_channels, H, W].
            coarse_mask: optional [B, Hc, Wc] bool decisions replacing the gate's
                (Hc = ceil(H / coarse_patch_size)); for analysis and tests.
            execution: one of ``RUN_EXECUTIONS`` for this call only; None: the backbone's own
                (:meth:`resolve_execution`). The model is not changed.
            counterfactual: ``packed_counterfactual`` for this call only; None: the
                backbone's own.
            query_share: ``query_share`` for this call only; None: the backbone's own.
            query_image_share: ``query_image_share`` for this call only; None: the
                backbone's own.

        Returns:
            outs: tuple of [B, C, Hv, Wv] maps (or [map, cls [B, C]] with output_cls_token).
            aux: ``gate_logits`` / ``gate_probs`` / ``coarse_mask`` [B, Hc, Wc],
                ``tokens_per_image`` [B] (long, without cls), ``coarse_ratio`` [B]; with
                'packed_query' / 'masked_query' also ``query_mask`` [B, Hc, Wc] bool, the
                regions whose gradient reaches the decisions.
        """
        execution = self.resolve_execution(execution)
        query_share = self.query_share if query_share is None else check_query_share(query_share)
        query_image_share = (self.query_image_share if query_image_share is None
                             else check_image_share(query_image_share))
        if counterfactual is None:
            counterfactual = self.packed_counterfactual
        elif counterfactual not in COUNTERFACTUALS:
            raise ValueError(f'counterfactual={counterfactual!r} is not one of '
                             f'{COUNTERFACTUALS} (or None: the backbone\'s own)')
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'input of shape {tuple(x.shape)} does not match '
                             f'in_channels={self.in_channels} (expected [B, {self.in_channels}, H, W])')
        fine_pos, cls_pos = self.fine_pos_embed(grid_size(x.shape[-2:], self.patch_size))
        tokens = self.tokenizer(x, self.patch_embed, fine_pos, coarse_mask, execution=execution,
                                query_share=query_share, query_image_share=query_image_share)
        prefix = None
        if self.with_cls_token:
            prefix = (self.cls_token + cls_pos).expand(x.shape[0], -1, -1)
        outs = self.encode(tokens, prefix, counterfactual)
        aux = dict(gate_logits=tokens.gate_logits, gate_probs=tokens.gate_probs,
                   coarse_mask=tokens.coarse_mask, tokens_per_image=tokens.tokens_per_image(),
                   coarse_ratio=tokens.coarse_ratio())
        if tokens.queries is not None:
            aux['query_mask'] = tokens.queries.sampled
        return tuple(outs), aux

    def encode(self, tokens: MixedScaleTokens, prefix: Optional[Tensor],
               counterfactual: str) -> list:
        """The encoder on the tokenizer's output: the outputs at ``out_indices`` (see
        ``forward_with_aux``). ``prefix``: [B, P, C] cls tokens (position added) or None."""
        if tokens.queries is not None:
            seq, query, layout = tokens.query_sequence(prefix)
            return run_query_layers(self, self.drop_after_pos(seq), query, layout)
        seq, layout = tokens.sequence(prefix, counterfactual)
        return run_layers(self, self.drop_after_pos(seq), layout)
