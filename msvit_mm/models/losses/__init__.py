from .base import BaseGateLoss, GateLossInput
from .gate_losses import BatchShapingLoss, GeneralizedBatchShapingLoss, TargetRateLoss
from .image_shaping_loss import GateLabelLoss, WithinImageShapingLoss

__all__ = ['BaseGateLoss', 'GateLossInput', 'BatchShapingLoss', 'GeneralizedBatchShapingLoss',
           'TargetRateLoss', 'GateLabelLoss', 'WithinImageShapingLoss']
