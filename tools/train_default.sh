#!/usr/bin/env bash
# Train and package the two shipped models (issue 5). Both: Unet-MobileNetV2 heatmap model, 128x128 input,
# 32x32 heatmaps, 6000 steps x 16 images, seed 0, AFW (../shared/data/300w_afw) for validation curves only;
# the final weights are shipped and evaluated (never the validation-best checkpoint).
#   default: the 100 FaceSynthetics faces only            (configs/default.yaml)
#   mixing:  half synthetic, half real 300W-Helen faces    (configs/default_mixing.yaml)
# On the 2-core CPU each run takes about an hour with one torch thread (the two can run side by side).
#   bash tools/train_default.sh [RUNS_DIR]
set -euo pipefail
RUNS=${1:-runs}
S=${SHARED:-../shared/data}
for name in default default_mixing; do
  heatmark train --config configs/$name.yaml --out "$RUNS/$name" --quiet \
    $( [ -f "$RUNS/$name/last.safetensors" ] && echo --resume )
done
python tools/package_model.py "$RUNS/default" --name default --eval-root "$S/300w_afw" \
  --label "synthetic-only: 100 FaceSynthetics faces" \
  --command "heatmark train --config configs/default.yaml --out $RUNS/default" --docs docs/results/default
python tools/package_model.py "$RUNS/default_mixing" --name mixing --eval-root "$S/300w_afw" \
  --label "data mixing: 100 FaceSynthetics + 870 real 300W-Helen faces, 50/50 per batch" \
  --command "heatmark train --config configs/default_mixing.yaml --out $RUNS/default_mixing" --docs docs/results/mixing
