"""What every gate does: score the coarse regions of an image, then decide."""
from typing import NamedTuple, Optional, Tuple

from mmengine.model import BaseModule
from torch import Tensor, nn

from ...ops.checks import check_int_at_least


class GateOutput(NamedTuple):
    """A gate's answer for a batch; every field is [B, Hc, Wc].

    logits: the gate's score per region, higher = rather coarse. For a learned gate the
        logit of the probability of staying coarse; for a rule its score; zeros for gates
        that look at nothing.
    mask: bool decisions, True = the region is one coarse token.
    weight: ``mask`` as float; for a learning gate a straight-through value whose gradient
        reaches the gate's parameters.
    """
    logits: Tensor
    mask: Tensor
    weight: Tensor


class BaseGate(BaseModule):
    """Decides per coarse region and per image whether the region stays one coarse token.

    Subclasses implement :meth:`scores` and :meth:`decide` and check their own arguments in
    their constructor (defaults live there too); the tokenizer passes ``in_channels`` and
    ``region_size`` and hands the gate the padded image, whose sides are multiples of
    ``region_size``.

    Args:
        in_channels: image channels.
        region_size: side of a coarse region in pixels (the tokenizer's coarse_patch_size).

    Attributes:
        learned: class attribute, True for gates with parameters trained by the gate
            losses; analysis code asks this instead of comparing names.
        uses_patch_embed: True for a gate whose :meth:`scores` also reads the backbone's
            patch embedding (``scores(x, patch_embed)``); the tokenizer passes it.
    """
    learned: bool = False
    uses_patch_embed: bool = False

    def __init__(self, in_channels: int = 3, region_size: int = 32, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        self.in_channels = check_int_at_least(f'{name} in_channels', in_channels, 1)
        self.region_size = check_int_at_least(f'{name} region_size', region_size, 1)

    @property
    def is_learning(self) -> bool:
        """A learned gate in training mode with at least one trainable parameter.

        Only then do the decisions need a gradient (masked execution); otherwise packed
        execution computes exactly the same. A gate frozen through the optimizer
        (``lr_mult=0``) is invisible here: freeze it with ``requires_grad=False``.
        """
        return self.learned and self.training and any(
            p.requires_grad for p in self.parameters())

    def grid(self, x: Tensor) -> Tuple[int, int]:
        """Coarse grid (Hc, Wc) of a padded image [B, C, H, W]."""
        h, w = x.shape[-2:]
        if h % self.region_size or w % self.region_size:
            raise ValueError(f'image sides {h}x{w} are not multiples of the region size '
                             f'{self.region_size} (the tokenizer pads them)')
        return h // self.region_size, w // self.region_size

    def scores(self, x: Tensor) -> Tensor:
        """[B, C, H, W] padded image -> [B, Hc, Wc] scores (higher = rather coarse)."""
        raise NotImplementedError

    def decide(self, scores: Tensor) -> Tuple[Tensor, Tensor]:
        """[B, Hc, Wc] scores -> (mask bool, weight float), both [B, Hc, Wc]."""
        raise NotImplementedError

    def forced_weight(self, scores: Tensor, mask: Tensor) -> Tensor:
        """The weight of decisions imposed from outside (``coarse_mask``): [B, Hc, Wc]."""
        return mask.to(scores.dtype)

    def forward(self, x: Tensor, coarse_mask: Optional[Tensor] = None,
                patch_embed: Optional[nn.Module] = None) -> GateOutput:
        """Decide for a batch.

        Args:
            x: [B, in_channels, H, W] image, sides multiples of ``region_size``.
            coarse_mask: optional [B, Hc, Wc] decisions that replace the gate's (analysis,
                benchmarks); a learned gate still scores, and its probabilities carry the
                straight-through gradient.
            patch_embed: the backbone's patch embedding, for a gate that ``uses_patch_embed``
                (ignored by the others).
        """
        scores = self.scores(x, patch_embed) if self.uses_patch_embed else self.scores(x)
        if coarse_mask is None:
            mask, weight = self.decide(scores)
            return GateOutput(scores, mask, weight)
        if tuple(coarse_mask.shape) != tuple(scores.shape):
            raise ValueError(f'coarse_mask of shape {tuple(coarse_mask.shape)} does not match '
                             f'the coarse grid {tuple(scores.shape)} (B, Hc, Wc)')
        mask = coarse_mask.to(device=scores.device, dtype=bool)
        return GateOutput(scores, mask, self.forced_weight(scores, mask))

    def extra_repr(self) -> str:
        return (f'learned={self.learned}, in_channels={self.in_channels}, '
                f'region_size={self.region_size}')
