# The classification quick start's stage 1 (tools/demo_cls.py): the small ViT/16 (every
# region fine) on the embedded object set, 300 iterations from scratch.
_base_ = ['./_base_/msvit-t_objects-128px.py']
model = dict(backbone=dict(gate=dict(type='FixedGate', coarse=False)), gate_loss=None)
find_unused_parameters = True  # the gate is not run
