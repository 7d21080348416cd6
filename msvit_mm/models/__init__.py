from . import backbones, losses, segmentors, tokenizers  # noqa: F401
