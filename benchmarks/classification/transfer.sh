#!/usr/bin/env bash
# The gate carried into segmentation: the small MSViT + UPerNet on the embedded segmentation
# set (`make demo` writes it) started from the classification quick start's models
# (`make demo-cls`), 300 iterations each, then the threshold calibrated to 0.5 coarse and
# gate quality on each fixed model:
#   from-cls-gate: backbone and gate of the stage-2 classifier (the gate trained on classification);
#   seg-gate:      backbone of the stage-1 classifier (ViT/16, no gate), the gate fresh and
#                  trained on segmentation only.
#   bash benchmarks/classification/transfer.sh
# Writes benchmarks/classification/results/; work dirs under work_dirs/cls_transfer/.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
C=configs/msvit/msvit-t-from-cls_upernet_1xb8-300_synthetic-ade20k-128x128.py
W=work_dirs/cls_transfer
R=benchmarks/classification/results
mkdir -p "$W" "$R"
run() {  # name, classifier checkpoint
    n=$1; ckpt=$2
    [ -f "$ckpt" ] || { echo "[transfer] $ckpt is missing: run make demo-cls first" >&2; exit 1; }
    [ -f "$W/$n/iter_300.pth" ] || "$PY" tools/train.py "$C" --work-dir "$W/$n" \
        --cfg-options model.pretrained="$ckpt" > "$W/$n.log" 2>&1
    "$PY" tools/analysis_tools/calibrate_gate.py "$C" "$W/$n/iter_300.pth" --target 0.5 \
        --json "$R/calibration_$n.json" > "$W/$n.calib.log" 2>&1
    t=$("$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['threshold'])" "$R/calibration_$n.json")
    "$PY" tools/analysis_tools/gate_quality.py "$C" "$W/$n/iter_300.pth" --ratios 0.5 \
        --seeds 0 1 2 --cfg-options model.backbone.gate.threshold="$t" \
        --out-json "$R/gate_quality_$n.json" --out-md "$R/gate_quality_$n.md" > "$W/$n.gq.log" 2>&1
    echo "[transfer] $n: $(grep -o 'mIoU: [0-9.]*' "$W/$n.log" | tail -1) (own decisions, uncalibrated)"
    cat "$R/gate_quality_$n.md"
}
run from-cls-gate work_dirs/demo_cls/iter_150.pth
run seg-gate work_dirs/demo_cls/stage1_vit16/iter_300.pth
