#!/usr/bin/env bash
# Top-1 against GMACs on the embedded object set: every stage-2 model of the classification
# quick start's recipe, trained for the same 150 iterations from the same stage-1 ViT/16
# (`make demo-cls` writes it and the set), then one table and plot from the work dirs.
#   make demo-cls && bash benchmarks/classification/table.sh
# Writes docs/classification_table.{md,png,json}; work dirs under work_dirs/cls_table/.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
C=configs/msvit_cls/msvit-t_1xb32-150_objects-128px.py
W=work_dirs/cls_table
S1=work_dirs/demo_cls/stage1_vit16/iter_300.pth
[ -f "$S1" ] || { echo "[cls-table] $S1 is missing: run make demo-cls first" >&2; exit 1; }
mkdir -p "$W"
train() {  # name, options
    n=$1; shift
    if [ -f "$W/$n/iter_150.pth" ]; then echo "[cls-table] done: $n"; return; fi
    echo "[cls-table] training $n (log: $W/$n.log)"
    "$PY" tools/train.py "$C" --work-dir "$W/$n" --cfg-options load_from="$S1" "$@" > "$W/$n.log" 2>&1
}
FIXED="model.gate_loss=None find_unused_parameters=True"
train vit-t16-continued model.backbone.gate.type=FixedGate model.backbone.gate.coarse=False $FIXED
train vit-t32 model.backbone.gate.type=FixedGate model.backbone.gate.coarse=True $FIXED
train random-0.5 model.backbone.gate.type=RandomGate model.backbone.gate.coarse_ratio=0.5 $FIXED
train entropy-0.5 model.backbone.gate.type=PixelStatGate model.backbone.gate.statistic=entropy \
    model.backbone.gate.coarse_ratio=0.5 $FIXED
for t in 0.25 0.5 0.75; do
    train msvit-t$t model.gate_loss.target_coarse_ratio=$t
done
"$PY" tools/analysis_tools/msvit_table.py "$W"/vit-t16-continued "$W"/vit-t32 "$W"/random-0.5 \
    "$W"/entropy-0.5 "$W"/msvit-t0.25 "$W"/msvit-t0.5 "$W"/msvit-t0.75 \
    --thresholds 0.005,0.02,0.1,0.5 --out-md docs/classification_table.md \
    --out-png docs/classification_table.png --out-json docs/classification_table.json
