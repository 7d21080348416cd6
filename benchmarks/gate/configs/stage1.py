# Gate benchmark, stage 1 base: the small MSViT recipe (6 layers, 96 wide, 800 iterations from
# scratch) on the benchmark scenes (benchmarks/gate/synthetic_benchmark.py; run.py writes them).
# No gate here: each run of benchmarks/gate/configs/runs.py sets its own (stage 1: ViT/16).
_base_ = ['../../../configs/_base_/msvit-t_upernet_synthetic-ade20k-128x128.py']
data_root = 'data/synthetic_bench/ADEChallengeData2016'
model = dict(gate_loss=None)
find_unused_parameters = True  # a fixed gate has parameters that do not run
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
