"""APT-style coarse tokens: the pooled-region embedding plus a zero-initialized projection of
the region's sub-patch embeddings (Choudhury et al., APT, ICLR 2026)."""
from typing import Optional, Tuple

from torch import Tensor, nn

from ...ops.patchify import gather_patches
from ...ops.region_scores import group_region_cells
from ..gates.zero_linear import ZeroLinear

AGGREGATIONS = (None, 'subpatch_linear')


def check_aggregation(aggregation: Optional[str], embed_dims: Optional[int]) -> None:
    """Raise unless ``aggregation`` is one of ``AGGREGATIONS`` and, when it is not None,
    ``embed_dims`` is a positive integer."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f'coarse_aggregation={aggregation!r} is not one of {AGGREGATIONS}')
    if aggregation is not None and not (isinstance(embed_dims, int) and embed_dims > 0):
        raise ValueError(f'coarse_aggregation={aggregation!r} needs embed_dims, a positive '
                         f'integer (the token width), got {embed_dims!r}')


def region_sub_tokens(fine: Tensor, fine_hw: Tuple[int, int], scale: int) -> Tensor:
    """Concatenated fine tokens of each coarse region: [B, Hp * Wp, C] -> [B, Hc * Wc,
    scale^2 * C] (the cells in raster order, ``group_region_cells``)."""
    return group_region_cells(fine, fine_hw, scale).flatten(2)


def gathered_sub_tokens(x: Tensor, patch_embed: nn.Module, active: Tensor, patch_size: int,
                        scale: int) -> Tensor:
    """The sub-patch embeddings of the active coarse regions only: [T, scale^2 * C].

    ``x`` [B, C_in, H, W] (sides multiples of ``scale * patch_size``), ``active`` [B, Hc * Wc]
    bool. Each region's pixels are cut into its ``scale^2`` patches and embedded alone, which
    equals the whole-image embedding when the projection embeds each patch alone
    (``is_patchify``); the order is :func:`region_sub_tokens`'.
    """
    batch_index, cell_index = active.nonzero(as_tuple=True)
    pixels = gather_patches(x, patch_size * scale, batch_index, cell_index)  # T, C_in, Sc, Sc
    t, c_in = pixels.shape[:2]
    patches = pixels.reshape(t, c_in, scale, patch_size, scale, patch_size)
    patches = patches.permute(0, 2, 4, 1, 3, 5).reshape(t * scale * scale, c_in, patch_size,
                                                         patch_size)
    tokens = patch_embed(patches)[0]  # T * scale^2, 1, C
    return tokens.reshape(t, scale * scale * tokens.shape[-1])


class SubPatchAggregation(nn.Module):
    """The coarse token's residual: a zero-initialized linear map ``scale^2 * C -> C`` of the
    concatenated embeddings of the region's ``scale^2`` fine patches (no position embedding).

    At initialization it adds exact zeros, so the model equals the one without it.
    """

    def __init__(self, embed_dims: int, scale: int):
        super().__init__()
        self.proj = ZeroLinear(scale * scale * embed_dims, embed_dims)

    def forward(self, sub_tokens: Tensor) -> Tensor:
        """[..., scale^2 * C] -> [..., C]."""
        return self.proj(sub_tokens)
