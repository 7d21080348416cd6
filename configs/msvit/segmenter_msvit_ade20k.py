# Short name: MSViT-S + Segmenter mask head, ADE20K 512x512, 160k iterations.
_base_ = ['./msvit-s_segmenter-mask_8xb1-160k_ade20k-512x512.py']
