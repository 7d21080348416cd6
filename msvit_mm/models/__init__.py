from . import backbones, gates, losses, segmentors, tokenizers  # noqa: F401
