"""Training-free low-detail rules: pixel-intensity entropy (APT's criterion) or pixel std."""
from typing import Optional, Tuple

from mmseg.registry import MODELS
from torch import Tensor

from ...ops.region_scores import rate_counts, region_entropy, region_std, topk_regions
from .base import BaseGate

STATISTICS = ('entropy', 'std')


@MODELS.register_module()
class PixelStatGate(BaseGate):
    """A region stays coarse when its pixels show little detail.

    ``statistic='entropy'``: entropy of the region's grey-level histogram (``bins`` bins over
    ``value_range``; the rule of APT, Choudhury et al., ICLR 2026); ``'std'``: the pixel
    standard deviation. Scores are the negated statistic. Exactly one of:

    - ``coarse_ratio``: per image, the ``round(coarse_ratio * regions)`` lowest-detail
      regions are coarse (a fixed budget per image);
    - ``threshold``: a region is coarse when its statistic is below ``threshold``.

    The statistics are taken on the image as the backbone sees it (after the data
    preprocessor's normalization). No parameters.
    """

    def __init__(self, statistic: str = 'entropy', coarse_ratio: Optional[float] = None,
                 threshold: Optional[float] = None, bins: int = 32,
                 value_range: Tuple[float, float] = (-2.2, 2.7), in_channels: int = 3,
                 region_size: int = 32, init_cfg=None):
        super().__init__(in_channels, region_size, init_cfg=init_cfg)
        if statistic not in STATISTICS:
            raise ValueError(f'statistic={statistic!r} is not one of {STATISTICS}')
        if coarse_ratio is not None and threshold is not None:
            raise ValueError('give exactly one of coarse_ratio and threshold, got '
                             f'coarse_ratio={coarse_ratio!r}, threshold={threshold!r}')
        if coarse_ratio is None and threshold is None:
            coarse_ratio = 0.5
        if coarse_ratio is not None and not 0.0 <= coarse_ratio <= 1.0:
            raise ValueError(f'coarse_ratio={coarse_ratio} must lie in [0, 1]')
        self.statistic = statistic
        self.coarse_ratio = coarse_ratio
        self.threshold = threshold
        self.bins = bins
        self.value_range = tuple(value_range)

    def scores(self, x: Tensor) -> Tensor:
        if self.statistic == 'entropy':
            stat = region_entropy(x, self.region_size, self.bins, self.value_range)
        else:
            stat = region_std(x.detach(), self.region_size)
        return -stat

    def decide(self, scores: Tensor) -> Tuple[Tensor, Tensor]:
        if self.coarse_ratio is not None:
            b, hc, wc = (int(d) for d in scores.shape)  # ints also while jit-tracing
            counts = rate_counts(b, hc * wc, self.coarse_ratio, scores.device)
            hard = topk_regions(scores, counts)
        else:
            hard = scores > -self.threshold
        return hard, hard.to(scores.dtype)

    def extra_repr(self) -> str:
        rule = (f'coarse_ratio={self.coarse_ratio}' if self.coarse_ratio is not None
                else f'threshold={self.threshold}')
        return f'{super().extra_repr()}, statistic={self.statistic!r}, {rule}'
