# Gate benchmark, stage 2: ViT/16 trained on for the same 300 iterations (the accuracy bar).
_base_ = ['./_base_/stage2.py']
