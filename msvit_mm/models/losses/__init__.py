from .gate_losses import BatchShapingLoss, GeneralizedBatchShapingLoss, TargetRateLoss

__all__ = ['BatchShapingLoss', 'GeneralizedBatchShapingLoss', 'TargetRateLoss']
