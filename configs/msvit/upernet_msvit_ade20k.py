# Short name users type: MSViT-S + UPerNet, ADE20K 512x512, 80k iterations, target 50% coarse.
_base_ = ['./msvit-s_upernet_8xb2-80k_ade20k-512x512.py']
