"""The speed harness: packed MSViT against ViT, inference and training steps."""
