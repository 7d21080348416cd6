"""Cheap per-region statistics that a learned gate may take besides the pixels."""
import math
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ...ops.region_scores import (region_entropy, region_laplacian_energy, region_std,
                                  subpatch_dissimilarity)

REGION_FEATURES = ('entropy', 'std', 'laplacian', 'subpatch_dissimilarity')
NEEDS_PATCH_EMBED = ('subpatch_dissimilarity',)


def check_region_features(owner: str, features: Sequence[str]) -> Tuple[str, ...]:
    """``features`` as a tuple of distinct names from ``REGION_FEATURES``, or raise."""
    if isinstance(features, (str, bytes)) or not isinstance(features, Sequence):
        raise ValueError(f'{owner} region_features must be a sequence of names from '
                         f'{REGION_FEATURES}, got {features!r}')
    bad = [f for f in features if f not in REGION_FEATURES]
    if bad or len(set(features)) != len(features):
        raise ValueError(f'{owner} region_features={tuple(features)!r}: each must be one of '
                         f'{REGION_FEATURES}, at most once')
    return tuple(features)


def region_features(x: Tensor, size: int, features: Sequence[str],
                    patch_embed: Optional[nn.Module] = None, bins: int = 32,
                    value_range: Tuple[float, float] = (-2.2, 2.7)) -> Tensor:
    """The named statistics of every region: [B, C, H, W] -> [B, Hc, Wc, len(features)].

    - ``'entropy'``: grey-level entropy (``region_entropy``, ``bins`` over ``value_range``)
      over ``log(bins)``, in [0, 1];
    - ``'std'``: pixel std, channel mean (``region_std``);
    - ``'laplacian'``: ``log1p`` of the Laplacian energy (``region_laplacian_energy``);
    - ``'subpatch_dissimilarity'``: one minus the mean pairwise cosine of the region's fine
      patches under ``patch_embed`` (the ViT's own; ``subpatch_dissimilarity``), in [0, 2].

    Every feature is detached: the gate learns to read them, nothing learns through them.
    ``H`` and ``W`` are multiples of ``size``.
    """
    x = x.detach()
    maps = []
    for name in features:
        if name == 'entropy':
            maps.append(region_entropy(x, size, bins, value_range) / math.log(bins))
        elif name == 'std':
            maps.append(region_std(x, size))
        elif name == 'laplacian':
            maps.append(torch.log1p(region_laplacian_energy(x, size)))
        elif name == 'subpatch_dissimilarity':
            if patch_embed is None:
                raise ValueError("region feature 'subpatch_dissimilarity' needs the backbone's "
                                 'patch embedding (the tokenizer passes it as patch_embed)')
            with torch.no_grad():
                fine, fine_hw = patch_embed(x)
            maps.append(subpatch_dissimilarity(fine, tuple(fine_hw), size * fine_hw[0] //
                                               x.shape[-2]))
        else:
            raise ValueError(f'region feature {name!r} is not one of {REGION_FEATURES}')
    return torch.stack(maps, dim=-1)
