#!/usr/bin/env bash
# The texture table's fixed-gate models (v3 scenes), stage 2 from the stage-1 ViT/16 of
# `run.sh headroom` run with data/texture_v3 and work_dirs/texture_v3 (see README.md):
# the entropy rule at 0.5 (seeds 0, 1), the random gate at 0.5 (seed 1), ViT/16 continued and
# ViT/32 (all coarse); then gate quality on each 0.5 model. Resumable, two runs at a time.
#   bash benchmarks/texture/table.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} PYTHONPATH=${PYTHONPATH:-.}
PY=${PYTHON:-python}
C=benchmarks/texture/configs
W=work_dirs/texture_v3
R=benchmarks/texture/results/v3
D="train_dataloader.dataset.data_root=data/texture_v3/ADEChallengeData2016 val_dataloader.dataset.data_root=data/texture_v3/ADEChallengeData2016 test_dataloader.dataset.data_root=data/texture_v3/ADEChallengeData2016"
L="load_from=$W/vit-t16_upernet_1xb8-800_texture-128x128/iter_800.pth"
S=_upernet_1xb8-s2-300_texture-128x128
train() { # run name, config name, extra options
  n=$1; c=$2; shift 2
  [ -f $W/$n/iter_300.pth ] || $PY tools/train.py $C/$c.py --work-dir $W/$n --cfg-options $L $D "$@" > $W/$n.log 2>&1
}
quality() { # run name, config name
  [ -f $R/gate_quality_$1.json ] || $PY tools/analysis_tools/gate_quality.py $C/$2.py $W/$1/iter_300.pth --ratios 0.5 --seeds 0 1 2 --cfg-options $D --out-json $R/gate_quality_$1.json --out-md $R/gate_quality_$1.md > $W/$1.gq.log 2>&1
}
( train entropy-0.5 entropy-0.5$S && quality entropy-0.5 entropy-0.5$S ) &
( train entropy-0.5-seed1 entropy-0.5$S randomness.seed=1 && quality entropy-0.5-seed1 entropy-0.5$S ) &
wait
( train random-0.5-seed1 random-0.5$S randomness.seed=1 && quality random-0.5-seed1 random-0.5$S ) &
( train vit-t16-continued vit-t16-continued$S && train vit-t32 vit-t32$S ) &
wait
for n in entropy-0.5 entropy-0.5-seed1 random-0.5-seed1 vit-t16-continued vit-t32; do
  echo "$n: $(grep -o 'mIoU: [0-9.]*' $W/$n.log | tail -1)"
done
echo "[texture] done: results in $R"
