# Small ablation: a random gate at the coarse ratio the learned small MSViT (target 0.5)
# reaches at inference on the embedded dataset (docs/benchmarks_synthetic.md).
_base_ = ['../_base_/msvit-t_upernet_synthetic-ade20k-128x128.py']
model = dict(backbone=dict(gate=dict(type='RandomGate', coarse_ratio=0.34)),
             gate_loss=None)
find_unused_parameters = True  # the gate is not run
