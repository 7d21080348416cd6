from .mixed_scale_tokenizer import MixedScaleTokenizer, check_scales
from .mixed_scale_tokens import MixedScaleTokens

__all__ = ['MixedScaleTokenizer', 'MixedScaleTokens', 'check_scales']
