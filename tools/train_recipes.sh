#!/usr/bin/env bash
# The documented recipes that are not shipped: a grey (one-channel) model and a 5-point model. Both use the
# shipped default's data (80 % 300W-Helen-train real faces + 20 % FaceSynthetics), network and seed:
#   grey:       configs/grey.yaml        (model.in_channels 1, 7000 steps: the colour default's schedule)
#   five_point: configs/five_point.yaml  (scheme face5, 3500 steps)
# On the 2-core CPU the two run side by side (one torch thread each; grey ~1 h 20 min). Then each is evaluated on
# AFW with ground-truth boxes (final weights, never a checkpoint picked on AFW), beside the colour default:
# the grey model in 68 points, the 5-point model in 5 points (NME over the eye-centre distance), with the
# default's 68 points reduced to the same 5 points and the same crops for comparison. JSON in docs/results/recipes.
# Run it on a quiet machine only if you read the times in the JSON (accuracy does not depend on it).
#   bash tools/train_recipes.sh [RUNS_DIR]
set -euo pipefail
RUNS=${1:-runs}
S=${SHARED:-../shared/data}
OUT=docs/results/recipes
mkdir -p "$OUT"
for name in grey five_point; do
  if [ ! -f "$RUNS/$name/final.safetensors" ]; then
    OMP_NUM_THREADS=1 heatmark train --config configs/$name.yaml --out "$RUNS/$name" --quiet \
      $( [ -f "$RUNS/$name/last.safetensors" ] && echo --resume ) &
  fi
done
wait
AFW="--dataset 300w --root $S/300w_afw"
heatmark eval $AFW --weights "$RUNS/grey/final.safetensors" --json "$OUT/grey.json"
# the colour run of the same recipe (tools/train_default.sh), as trained: before the shipped label-bias offset
heatmark eval $AFW --weights "$RUNS/default/final.safetensors" --json "$OUT/colour_default_recipe.json"
heatmark eval $AFW --weights "$RUNS/five_point/final.safetensors" --json "$OUT/five_point.json"
# like for like: both read AFW as 5 points (crops from the 5-point box, as for CUHK/MTFL data)
heatmark eval $AFW --weights "$RUNS/five_point/final.safetensors" --scheme face5 --json "$OUT/five_point_5pt_boxes.json"
heatmark eval $AFW --weights default --scheme face5 --json "$OUT/default_as_5_points.json"
