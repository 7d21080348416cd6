#!/usr/bin/env bash
# The real-texture benchmark's full table (data v3): every stage-2 model at 0.25, 0.5 and 0.75
# coarse regions, two seeds each, then its table and plot.
#
#   bash benchmarks/texture/suite.sh            # everything missing, two runs at a time
#   bash benchmarks/texture/suite.sh report     # only the table and plot from what exists
#   PYTHON=/path/to/python JOBS=1 bash benchmarks/texture/suite.sh
#
# Runs: the data set and the stage-1 ViT/16 (800 iterations), then per coarse share r the
# random gate, the entropy rule, the std rule and MSViT (learned gate, gBaS weight 1 towards r,
# the default execution) with seeds 0 and 1, 300 iterations each from the stage-1 weights;
# ViT/16 continued and ViT/32 once; at 0.5 also MSViT trained with masked_query on half of
# each batch's images (query_image_share=0.5, and 0.25 last). Each trained model is evaluated once: its own decisions
# (mIoU and GMACs over the 120 validation images, MSViT at the threshold calibrated to r on the
# training images; tools/analysis_tools/msvit_table.py) and, for the gated models, gate quality
# at r on the fixed model (tools/analysis_tools/gate_quality.py). Resumable run by run: a
# checkpoint or a result file that exists is not made again. Checkpoints and logs:
# work_dirs/texture_v3/suite/; results: benchmarks/texture/results/v3/suite/; the table and
# plot: docs/texture_table.{md,png,json} (benchmarks/texture/report.py).
set -uo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1 PYTHONPATH=${PYTHONPATH:-.}
export PY=${PYTHON:-python}
JOBS=${JOBS:-2}
export C=benchmarks/texture/configs
export W=work_dirs/texture_v3/suite
export R=benchmarks/texture/results/v3/suite
export DATA=data/texture_v3
export S1=vit-t16_upernet_1xb8-800_texture-128x128
export D="train_dataloader.dataset.data_root=$DATA/ADEChallengeData2016 val_dataloader.dataset.data_root=$DATA/ADEChallengeData2016 test_dataloader.dataset.data_root=$DATA/ADEChallengeData2016"
mkdir -p "$W" "$R"

# name -> config and options (ratio r as the name's second field)
spec() {
  local n=$1 kind r seed=() opts
  kind=${n%%-*}; r=${n#*-}; r=${r%%-*}
  [[ $n == *-seed1 ]] && seed=(randomness.seed=1)
  case $kind in
    random)  echo "random-0.5 model.backbone.gate.coarse_ratio=$r ${seed[*]}" ;;
    entropy) echo "entropy-0.5 model.backbone.gate.coarse_ratio=$r ${seed[*]}" ;;
    std)     echo "entropy-0.5 model.backbone.gate.statistic=std model.backbone.gate.coarse_ratio=$r ${seed[*]}" ;;
    msvit)   echo "msvit-t-t0.5-w1 model.gate_loss.target_coarse_ratio=$r ${seed[*]}" ;;
    msvitimg) echo "msvit-t-t0.5-w1 model.gate_loss.target_coarse_ratio=$r model.backbone.execution=masked_query model.backbone.query_image_share=0.5 ${seed[*]}" ;;
    msvitimg25) echo "msvit-t-t0.5-w1 model.gate_loss.target_coarse_ratio=$r model.backbone.execution=masked_query model.backbone.query_image_share=0.25 ${seed[*]}" ;;
    vit16)   echo "vit-t16-continued" ;;
    vit32)   echo "vit-t32" ;;
    *) echo "unknown run $n" >&2; return 1 ;;
  esac
}
one() { # run name: train, then evaluate
  local n=$1 s base opts cfg t
  s=$(spec "$n") || return 1
  base=${s%% *}; opts=${s#"$base"}
  cfg=$C/${base}_upernet_1xb8-s2-300_texture-128x128.py
  if [ ! -f "$W/$n/iter_300.pth" ]; then
    echo "[suite] $(date +%T) training $n"
    # shellcheck disable=SC2086
    $PY tools/train.py "$cfg" --work-dir "$W/$n" --cfg-options load_from=$W/$S1/iter_800.pth $D $opts \
      > "$W/$n.log" 2>&1 || { echo "[suite] $n failed: $W/$n.log" >&2; return 1; }
  fi
  local r=${n#*-}; r=${r%%-*} tq=()
  if [[ $n == msvit* ]]; then
    [ -f "$R/calibration_$n.json" ] || $PY tools/analysis_tools/calibrate_gate.py "$W/$n/"*.py \
      "$W/$n/iter_300.pth" --target "$r" --json "$R/calibration_$n.json" > "$W/$n.calib.log" 2>&1 || return 1
    t=$($PY -c "import json,sys;print(json.load(open(sys.argv[1]))['threshold'])" "$R/calibration_$n.json")
    tq=(--cfg-options "model.backbone.gate.threshold=$t")
  fi
  if [[ $n != vit* ]] && [ ! -f "$R/gate_quality_$n.json" ]; then
    $PY tools/analysis_tools/gate_quality.py "$W/$n/"*.py "$W/$n/iter_300.pth" --ratios "$r" --seeds 0 1 2 \
      "${tq[@]}" --out-json "$R/gate_quality_$n.json" --out-md "$R/gate_quality_$n.md" > "$W/$n.gq.log" 2>&1 || return 1
  fi
  if [ ! -f "$R/model_$n.json" ]; then
    local th=()
    [ -n "${t:-}" ] && th=(--thresholds "$t")
    $PY tools/analysis_tools/msvit_table.py "$W/$n" "${th[@]}" --num-images 0 \
      --out-json "$R/model_$n.json" > "$W/$n.table.log" 2>&1 || return 1
  fi
  echo "[suite] $(date +%T) done $n"
}
export -f spec one

if [ "${1:-}" != report ]; then
  $PY benchmarks/texture/make_texture_set.py --root $DATA --num-train 480 --num-val 120 \
    --size 128 128 --seed 0 || exit 1
  if [ ! -f "$W/$S1/iter_800.pth" ]; then
    echo "[suite] $(date +%T) training stage 1 ($S1)"
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=$JOBS $PY tools/train.py $C/$S1.py --work-dir "$W/$S1" --cfg-options $D \
      > "$W/$S1.log" 2>&1 || exit 1
  fi
  # the line's ends first, the std-rule models last (the longest suite stops with the most rows)
  runs=(vit16-0 vit32-1)
  for r in 0.5 0.25 0.75; do
    for k in msvit random entropy; do runs+=("$k-$r" "$k-$r-seed1"); done
    [ $r = 0.5 ] && runs+=(msvitimg-0.5 msvitimg-0.5-seed1)
  done
  for r in 0.5 0.25 0.75; do runs+=("std-$r" "std-$r-seed1"); done
  runs+=(msvitimg25-0.5 msvitimg25-0.5-seed1)  # added after the first full run
  printf '%s\n' "${runs[@]}" | xargs -P "$JOBS" -I{} bash -c 'one {}'
fi
$PY benchmarks/texture/report.py --results "$R" --out docs/texture_table
