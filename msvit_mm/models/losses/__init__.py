from .gate_losses import BatchShapingLoss, GeneralizedBatchShapingLoss, TargetRateLoss
from .image_shaping_loss import GateLabelLoss, WithinImageShapingLoss

__all__ = ['BatchShapingLoss', 'GeneralizedBatchShapingLoss', 'TargetRateLoss',
           'GateLabelLoss', 'WithinImageShapingLoss']
