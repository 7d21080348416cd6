from .mixed_scale_tokenizer import MixedScaleTokenizer, check_scales
from .mixed_scale_tokens import MixedScaleTokens
from .region_gate import RegionGate

__all__ = ['MixedScaleTokenizer', 'MixedScaleTokens', 'RegionGate', 'check_scales']
