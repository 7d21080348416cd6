"""The gate benchmark: MSViT against chance and pixel rules on generated scenes."""
