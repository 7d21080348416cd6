#!/usr/bin/env bash
# Train the five small configs of docs/benchmarks_synthetic.md on the embedded dataset (CPU;
# about 6-10 minutes each on 2 cores), into work_dirs/bench/<config name>/, then print the
# command that tabulates them. (The gate benchmark has its own runner:
# python benchmarks/gate/run.py, see benchmarks/gate/README.md.)
#   bash scripts/train_small_benchmarks.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-${PYTHON:-.venv/bin/python}}
"$PY" tools/dataset_converters/make_synthetic_ade20k.py --root data/synthetic_ade
for cfg in \
    configs/msvit/msvit-t_upernet_1xb8-800_synthetic-ade20k-128x128.py \
    configs/msvit/msvit-t-t0.25_upernet_1xb8-800_synthetic-ade20k-128x128.py \
    configs/baselines/vit-t16_upernet_1xb8-800_synthetic-ade20k-128x128.py \
    configs/baselines/vit-t32_upernet_1xb8-800_synthetic-ade20k-128x128.py \
    configs/baselines/random-gate-0.34_upernet_1xb8-800_synthetic-ade20k-128x128.py; do
    name=$(basename "$cfg" .py)
    if [ -f "work_dirs/bench/$name/iter_800.pth" ]; then echo "done: $name"; continue; fi
    "$PY" tools/train.py "$cfg" --work-dir "work_dirs/bench/$name"
done
echo "table: $PY tools/analysis_tools/msvit_table.py work_dirs/bench/* --out-md docs/benchmarks_synthetic.md --out-png docs/benchmarks_synthetic.png"
