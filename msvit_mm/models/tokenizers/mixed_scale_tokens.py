"""The one structure that crosses module boundaries: a batch of mixed-scale tokens."""
from dataclasses import dataclass
from typing import Optional, Tuple, Union

from torch import Tensor

from ...ops.layouts import MaskedLayout, PackedLayout
from ...ops.query_layout import QueryPackedLayout, QueryTokens

EXECUTIONS = ('masked', 'packed', 'packed_query', 'masked_query')
QUERY_EXECUTIONS = ('packed_query', 'masked_query')  # packed plus query-only tokens


@dataclass
class MixedScaleTokens:
    """Both scales of every region, plus which of them exist, in one execution form.

    ``execution`` is the form the tokenizer was asked for: 'masked' (every coarse region and
    fine cell embedded), 'packed' (only the tokens that exist, ``coarse_masked[coarse_active]``)
    or one of ``QUERY_EXECUTIONS`` (packed, plus query-only stand-ins for absent tokens,
    ``msvit_mm.ops.query_layout``). :meth:`sequence` (:meth:`query_sequence` for those)
    gives the encoder's input in that form and its layout.

    Attributes:
        coarse: embedded coarse tokens (position embedding added), raster order: masked
            [B, Hc * Wc, C], packed [Tc, C] (image 0's first).
        fine: embedded fine tokens, Hp = scale * Hc, Wp = scale * Wc: masked [B, Hp * Wp, C],
            packed [Tf, C].
        coarse_mask: [B, Hc, Wc] bool, True where a region is one coarse token.
        coarse_weight: [B, Hc, Wc] float, ``coarse_mask`` as a straight-through value: its
            gradient reaches the gate (only in learned mode while training).
        coarse_active: [B, Hc * Wc] bool, coarse tokens that exist.
        fine_active: [B, Hp * Wp] bool, fine tokens that exist (parent fine, inside the image).
        gate_logits: [B, Hc, Wc] the gate's logits (zeros in forced modes).
        gate_probs: [B, Hc, Wc] ``sigmoid(gate_logits)``, what the gate losses shape.
        scale: fine cells per coarse side (coarse_patch_size / patch_size).
        valid_hw: (Hv, Wv), the image's own fine grid, ceil(H / patch_size) x ceil(W / ...).
        execution: one of ``EXECUTIONS``.
        queries: the query-only tokens (no autograd) of a ``QUERY_EXECUTIONS`` form, else
            None.
    """
    coarse: Tensor
    fine: Tensor
    coarse_mask: Tensor
    coarse_weight: Tensor
    coarse_active: Tensor
    fine_active: Tensor
    gate_logits: Tensor
    gate_probs: Tensor
    scale: int
    valid_hw: Tuple[int, int]
    execution: str
    queries: Optional[QueryTokens] = None

    def __post_init__(self) -> None:
        if self.execution not in EXECUTIONS:
            raise ValueError(f'execution={self.execution!r} is not one of {EXECUTIONS}')
        if (self.execution in QUERY_EXECUTIONS) != (self.queries is not None):
            raise ValueError(f'query tokens come with an execution in {QUERY_EXECUTIONS} '
                             f'and only with one, not {self.execution!r}')

    def tokens_per_image(self) -> Tensor:
        """[B] long: coarse plus fine tokens that exist (no cls token)."""
        return self.coarse_active.sum(1) + self.fine_active.sum(1)

    def coarse_ratio(self) -> Tensor:
        """[B] float: fraction of coarse regions kept coarse."""
        return self.coarse_mask.flatten(1).float().mean(1)

    def sequence(self, prefix: Optional[Tensor] = None, counterfactual: str = 'zero'
                 ) -> Tuple[Tensor, Union[MaskedLayout, PackedLayout]]:
        """``[prefix | coarse | fine]`` in this execution form, and its layout.

        Args:
            prefix: [B, P, C] always-present tokens (the cls token), or None.
            counterfactual: packed form only, the gate gradient's stand-in for the scale
                that did not run (``msvit_mm.ops.layouts.PackedLayout``).

        Returns:
            masked: [B, P + Nc + Nf, C] and a :class:`MaskedLayout`; packed: [T, C], the
            same tokens as ``pack`` of the masked sequence, and a :class:`PackedLayout`.
        """
        if self.execution in QUERY_EXECUTIONS:
            raise ValueError(f'execution={self.execution!r} has two token sets: use '
                             'query_sequence')
        if self.execution == 'packed':
            return PackedLayout.from_tokens(self, prefix, counterfactual)
        return MaskedLayout.from_tokens(self, prefix)

    def query_sequence(self, prefix: Optional[Tensor] = None
                       ) -> Tuple[Tensor, Tensor, QueryPackedLayout]:
        """``QUERY_EXECUTIONS`` only: the real packed tokens [T, C] (packed execution's), the
        query tokens [Q, C] and their :class:`~msvit_mm.ops.query_layout.QueryPackedLayout`."""
        if self.queries is None:
            raise ValueError(f'query_sequence needs an execution in {QUERY_EXECUTIONS}, not '
                             f'{self.execution!r}')
        return QueryPackedLayout.from_tokens(self, self.queries, prefix)
