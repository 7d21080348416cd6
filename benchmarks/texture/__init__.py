"""The real-texture benchmark: scenes made of crops of photos shipped in installed wheels."""
