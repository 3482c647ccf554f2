#!/usr/bin/env bash
# The two baseline runs recorded in the README (issue 4): synthetic-only training on
# ../shared/data/facesynthetics_100, validation and evaluation on ../shared/data/300w_afw (GT boxes).
# Budget: 3000 steps x 16 images each (same for both heads), seed 0, CPU. Evaluated with the final weights.
#   bash tools/train_baselines.sh [RUNS_DIR]
set -euo pipefail
RUNS=${1:-runs}
S=${SHARED:-../shared/data}
for head in heatmap regression; do
  heatmark train --config configs/$head.yaml --out "$RUNS/baseline_$head" --max-steps 3000 \
    --set data.samples_per_epoch=1600 --seed 0 --quiet
  heatmark eval --dataset 300w --root "$S/300w_afw" --weights "$RUNS/baseline_$head/final.safetensors" \
    --json "$RUNS/baseline_$head/eval_afw.json" --plots "$RUNS/baseline_$head/plots"
  heatmark eval --dataset 300w --root "$S/300w_afw" --weights "$RUNS/baseline_$head/final.safetensors" \
    --boxes detector --json "$RUNS/baseline_$head/eval_afw_detector.json"
done
