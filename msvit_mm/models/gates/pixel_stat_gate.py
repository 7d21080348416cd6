"""Training-free low-detail rules: pixel-intensity entropy (APT's criterion) or pixel std."""
import math
from typing import Optional, Tuple

from mmseg.registry import MODELS
from torch import Tensor

from ...ops.checks import check_int_at_least, check_non_negative, check_unit_interval, is_real
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
      regions are coarse (a fixed budget per image; the default, 0.5);
    - ``max_statistic``: a region is coarse when its statistic is below ``max_statistic``
      (a bound on the entropy or std, not a probability: this gate has no ``threshold``).

    The statistics are taken on the image as the backbone sees it (after the data
    preprocessor's normalization). No parameters.

    Args:
        statistic: ``'entropy'`` or ``'std'``.
        coarse_ratio: share of coarse regions per image, in [0, 1].
        max_statistic: bound on the statistic, finite and >= 0.
        bins: histogram bins of the entropy, an integer >= 2.
        value_range: ``(low, high)`` of the histogram, finite, ``low < high``.
        threshold: refused (this gate's bound is ``max_statistic``).
    """

    def __init__(self, statistic: str = 'entropy', coarse_ratio: Optional[float] = None,
                 max_statistic: Optional[float] = None, bins: int = 32,
                 value_range: Tuple[float, float] = (-2.2, 2.7), in_channels: int = 3,
                 region_size: int = 32, init_cfg=None, threshold=None):
        super().__init__(in_channels, region_size, init_cfg=init_cfg)
        if threshold is not None:  # its name before; only MLPGate thresholds a probability
            raise TypeError(f'PixelStatGate has no threshold (got {threshold!r}): a bound on '
                            'its statistic is max_statistic')
        if statistic not in STATISTICS:
            raise ValueError(f'PixelStatGate statistic={statistic!r} is not one of {STATISTICS}')
        if coarse_ratio is not None and max_statistic is not None:
            raise ValueError('PixelStatGate: give exactly one of coarse_ratio and max_statistic, '
                             f'got coarse_ratio={coarse_ratio!r}, max_statistic={max_statistic!r}')
        if max_statistic is None:
            self.coarse_ratio = check_unit_interval(
                'PixelStatGate coarse_ratio', 0.5 if coarse_ratio is None else coarse_ratio)
            self.max_statistic = None
        else:
            self.coarse_ratio = None
            self.max_statistic = check_non_negative('PixelStatGate max_statistic', max_statistic)
        self.statistic = statistic
        self.bins = check_int_at_least('PixelStatGate bins', bins, 2)
        self.value_range = check_value_range(value_range)

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
            hard = scores > -self.max_statistic
        return hard, hard.to(scores.dtype)

    def extra_repr(self) -> str:
        rule = (f'coarse_ratio={self.coarse_ratio}' if self.coarse_ratio is not None
                else f'max_statistic={self.max_statistic}')
        return (f'{super().extra_repr()}, statistic={self.statistic!r}, {rule}, '
                f'bins={self.bins}, value_range={self.value_range}')


def check_value_range(value_range) -> Tuple[float, float]:
    """``(low, high)``, finite, ``low < high``; returned as a float pair."""
    pair = tuple(value_range) if isinstance(value_range, (tuple, list)) else ()
    if not (len(pair) == 2 and all(is_real(v) and math.isfinite(v) for v in pair)
            and pair[0] < pair[1]):
        raise ValueError('PixelStatGate value_range must be (low, high), finite numbers with '
                         f'low < high, got {value_range!r}')
    return float(pair[0]), float(pair[1])
