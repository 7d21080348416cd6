#!/usr/bin/env bash
# The texture benchmark on the CPU, resumable (a run whose checkpoint exists is not retrained):
#
#   bash benchmarks/texture/run.sh headroom   # data, stage 1, random-gate stage 2, headroom
#   bash benchmarks/texture/run.sh msvit      # + MSViT (gBaS weight 1, masked), calibrated to
#                                             #   0.5, gate quality on its fixed model
#   PYTHON=/path/to/python bash benchmarks/texture/run.sh ...
#
# Writes benchmarks/texture/results/*.json; checkpoints and logs under work_dirs/texture/.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
WHAT=${1:-headroom}
case "$WHAT" in headroom|msvit) ;; *) echo "usage: $0 headroom|msvit" >&2; exit 2 ;; esac
W=work_dirs/texture
C=benchmarks/texture/configs
R=benchmarks/texture/results
S1=vit-t16_upernet_1xb8-800_texture-128x128
RAND=random-0.5_upernet_1xb8-s2-300_texture-128x128
MSVIT=msvit-t-t0.5-w1_upernet_1xb8-s2-300_texture-128x128
mkdir -p "$W" "$R"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

train() {  # name, iterations
    if [ -f "$W/$1/iter_$2.pth" ]; then echo "[texture] done: $1"; return; fi
    echo "[texture] training $1 (log: $W/$1.log)"
    "$PY" tools/train.py "$C/$1.py" --work-dir "$W/$1" > "$W/$1.log" 2>&1
}

"$PY" benchmarks/texture/make_texture_set.py --root data/texture_ade --num-train 480 \
    --num-val 120 --size 128 128 --seed 0
train "$S1" 800
if [ "$WHAT" = msvit ]; then
    train "$RAND" 300 & rand=$!
    train "$MSVIT" 300 & msvit=$!
    wait "$rand"; wait "$msvit"
else
    train "$RAND" 300
fi

fresh() { [ -f "$1" ] && [ "$1" -nt "$2" ]; }  # result newer than its checkpoint
fresh "$R/gate_quality_random-0.5.json" "$W/$RAND/iter_300.pth" ||
"$PY" tools/analysis_tools/gate_quality.py "$C/$RAND.py" "$W/$RAND/iter_300.pth" \
    --ratios 0.5 --seeds 0 1 2 --out-json "$R/gate_quality_random-0.5.json" \
    --out-md "$R/gate_quality_random-0.5.md"
"$PY" benchmarks/texture/headroom.py --data-root data/texture_ade/ADEChallengeData2016 \
    --gate-quality "$R/gate_quality_random-0.5.json" --out-json "$R/headroom.json"
[ "$WHAT" = msvit ] || exit 0

fresh "$R/calibration_msvit-t-t0.5-w1.json" "$W/$MSVIT/iter_300.pth" ||
"$PY" tools/analysis_tools/calibrate_gate.py "$C/$MSVIT.py" "$W/$MSVIT/iter_300.pth" \
    --target 0.5 --json "$R/calibration_msvit-t-t0.5-w1.json"
OPT=$("$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['cfg_options'])" \
    "$R/calibration_msvit-t-t0.5-w1.json")
"$PY" tools/analysis_tools/gate_quality.py "$C/$MSVIT.py" "$W/$MSVIT/iter_300.pth" \
    --ratios 0.5 --seeds 0 1 2 --cfg-options "$OPT" \
    --out-json "$R/gate_quality_msvit-t-t0.5-w1.json" --out-md "$R/gate_quality_msvit-t-t0.5-w1.md"
