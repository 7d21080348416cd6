#!/usr/bin/env bash
# The gate levers on the texture set (v3), seed 0, each one stage 2 of the MSViT row's recipe
# (300 iterations from the stage-1 ViT/16 of `run.sh headroom` run with data/texture_v3 and
# work_dirs/texture_v3, see README.md), then calibration to 0.5 and gate quality, as seeds.sh.
# Resumable: a finished training or evaluation is not run again. Two runs at a time.
#   bash benchmarks/texture/levers.sh [apt statgate residual random-apt statgate-seed1]
#   (default: the first three)
set -uo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} PYTHONPATH=${PYTHONPATH:-.}
PY=${PYTHON:-python}
K=benchmarks/texture/configs
W=work_dirs/texture_v3
R=benchmarks/texture/results/v3
D="train_dataloader.dataset.data_root=data/texture_v3/ADEChallengeData2016 val_dataloader.dataset.data_root=data/texture_v3/ADEChallengeData2016 test_dataloader.dataset.data_root=data/texture_v3/ADEChallengeData2016"
L="load_from=$W/vit-t16_upernet_1xb8-800_texture-128x128/iter_800.pth"
config() { # run name -> its config
  case $1 in
    apt) echo $K/msvit-t-t0.5-w1-apt_upernet_1xb8-s2-300_texture-128x128.py ;;
    statgate) echo $K/msvit-t-t0.5-w1-statgate_upernet_1xb8-s2-300_texture-128x128.py ;;
    residual) echo $K/msvit-t-t0.5-w1-residual_upernet_1xb8-s2-300_texture-128x128.py ;;
    random-apt) echo $K/random-0.5-apt_upernet_1xb8-s2-300_texture-128x128.py ;;
    statgate-seed1) echo $K/msvit-t-t0.5-w1-statgate_upernet_1xb8-s2-300_texture-128x128.py ;;
    *) echo "levers.sh: unknown run '$1' (apt, statgate, residual, random-apt, statgate-seed1)" >&2; return 1 ;;
  esac
}
one() { # run name: train, then (a learned gate) calibrate to 0.5, then gate quality
  local r=$1 c n s t
  c=$(config $r) || return 1
  n=$(basename $c .py); s=
  case $r in *-seed1) n=$n-seed1; s=randomness.seed=1 ;; esac
  [ -f $W/$n/iter_300.pth ] || $PY tools/train.py $c --work-dir $W/$n --cfg-options $L $D $s > $W/$n.log 2>&1 || { echo "[levers] $r: training failed, see $W/$n.log"; return 1; }
  [ -f $R/gate_quality_$n.json ] && return 0
  if [ $r = random-apt ]; then
    $PY tools/analysis_tools/gate_quality.py $c $W/$n/iter_300.pth --ratios 0.5 --seeds 0 1 2 --cfg-options $D --out-json $R/gate_quality_$n.json --out-md $R/gate_quality_$n.md > $W/$n.gq.log 2>&1
    return
  fi
  $PY tools/analysis_tools/calibrate_gate.py $c $W/$n/iter_300.pth --target 0.5 --json $R/calibration_$n.json --cfg-options $D > $W/$n.calib.log 2>&1 || return 1
  t=$($PY -c "import json;print(json.load(open('$R/calibration_$n.json'))['threshold'])")
  $PY tools/analysis_tools/gate_quality.py $c $W/$n/iter_300.pth --ratios 0.5 --seeds 0 1 2 --cfg-options model.backbone.gate.threshold=$t $D --out-json $R/gate_quality_$n.json --out-md $R/gate_quality_$n.md > $W/$n.gq.log 2>&1
}
mkdir -p $W $R
RUNS=("$@"); [ ${#RUNS[@]} -gt 0 ] || RUNS=(apt statgate residual)
for r in "${RUNS[@]}"; do config $r > /dev/null || exit 2; done
for ((i = 0; i < ${#RUNS[@]}; i += 2)); do
  one ${RUNS[i]} &
  [ $((i + 1)) -lt ${#RUNS[@]} ] && one ${RUNS[i + 1]} &
  wait
done
echo "[levers] done: results in $R"
