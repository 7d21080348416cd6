#!/usr/bin/env bash
# MSViT on the texture set (v3) trained with execution='masked_query' (masked training's values
# and gradients, its absent tokens as query-only tokens), seeds 0 and 1, as seeds.sh's masked
# runs otherwise: stage 2 from the stage-1 ViT/16, calibration to 0.5, gate quality. Resumable.
#   bash benchmarks/texture/masked_query.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} PYTHONPATH=${PYTHONPATH:-.}
PY=${PYTHON:-python}
C=benchmarks/texture/configs/msvit-t-t0.5-w1_upernet_1xb8-s2-300_texture-128x128.py
W=work_dirs/texture_v3
R=benchmarks/texture/results/v3
D="train_dataloader.dataset.data_root=data/texture_v3/ADEChallengeData2016 val_dataloader.dataset.data_root=data/texture_v3/ADEChallengeData2016 test_dataloader.dataset.data_root=data/texture_v3/ADEChallengeData2016"
L="load_from=$W/vit-t16_upernet_1xb8-800_texture-128x128/iter_800.pth"
run() { # name, extra options
  n=$1; shift
  [ -f $W/$n/iter_300.pth ] || $PY tools/train.py $C --work-dir $W/$n --cfg-options $L $D model.backbone.execution=masked_query "$@" > $W/$n.log 2>&1 || return 1
  [ -f $R/gate_quality_$n.json ] && return 0
  $PY tools/analysis_tools/calibrate_gate.py $C $W/$n/iter_300.pth --target 0.5 --json $R/calibration_$n.json --cfg-options $D > $W/$n.calib.log 2>&1
  t=$($PY -c "import json;print(json.load(open('$R/calibration_$n.json'))['threshold'])")
  $PY tools/analysis_tools/gate_quality.py $C $W/$n/iter_300.pth --ratios 0.5 --seeds 0 1 2 --cfg-options model.backbone.gate.threshold=$t $D --out-json $R/gate_quality_$n.json --out-md $R/gate_quality_$n.md > $W/$n.gq.log 2>&1
}
run msvit-t-t0.5-w1-maskedquery &
run msvit-t-t0.5-w1-maskedquery-seed1 randomness.seed=1 &
wait
echo "[texture] done: results in $R"
