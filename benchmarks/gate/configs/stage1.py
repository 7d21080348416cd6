# Gate benchmark, stage 1: the small ViT/16 (every region fine) trained from scratch on the
# benchmark scenes (textured one-class stuff, isoluminant boundaries; see
# msvit_mm/datasets/synthetic_benchmark.py). Stage 2 starts from its weights.
# The data: python tools/dataset_converters/make_synthetic_ade20k.py --root data/synthetic_bench --style benchmark --num-train 480 --num-val 120
_base_ = ['../msvit/msvit-t_upernet_1xb8-800_synthetic-ade20k-128x128.py']
data_root = 'data/synthetic_bench/ADEChallengeData2016'
model = dict(backbone=dict(gate=dict(_delete_=True, type='FixedGate', coarse=False)),
             gate_loss=None)
find_unused_parameters = True  # no gate parameters run
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
