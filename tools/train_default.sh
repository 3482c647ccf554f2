#!/usr/bin/env bash
# Train and package every shipped model. default and synthetic: Unet-MobileNetV2 heatmap model (slim decoder),
# 128x128 input, 32x32 heatmaps, 7000 steps x 16 images, seed 0; AFW (../shared/data/300w_afw) for validation curves
# only, the final weights are shipped and evaluated (never the validation-best checkpoint).
#   synthetic: no real landmark labels: FaceSynthetics (silhouette jaw) + Helen photos pseudo-labelled by a
#              teacher (round two of self-training)             (configs/models/synthetic.yaml)
#   default:   stage 1 starts from the packaged synthetic weights (model.init: synthetic), then the 870 real
#              300W-Helen-train faces (configs/models/default.yaml; from a random initialisation:
#              configs/models/default_scratch.yaml); stage 2 trims the encoder (no 320->1280 layer), loads every
#              stage-1 tensor that still fits and trains 2000 more steps at 160 px (configs/models/default_trim.yaml);
#              a per-point label-bias offset fitted on Helen-train
#   fast:      a pixel-in-pixel MobileNetV3-small network (no decoder), 192x192 crops: pretrained with the synthetic
#              recipe (configs/models/fast_synthetic.yaml), then the previous default recipe (80 % Helen-train,
#              20 % FaceSynthetics; configs/models/fast.yaml), then a second stage of 2000 steps on the real faces
#              only at lr 3e-4 (configs/models/fast_ft.yaml), then a third of 3000 steps distilled from `default`
#              (configs/models/fast_kd.yaml); shipped because it is the fastest frontier point
#              within 1 NME point of default on AFW
# On the 2-core CPU: synthetic and fast_synthetic side by side (about 1 h 30 min, one torch thread each), then
# default (stage 1) and fast, which start from them (about 1 h 30 min), then default stage 2 (about 35 min alone)
# and fast's second and third stages (about 10 and 40 min).
#   bash tools/train_default.sh [RUNS_DIR]
set -euo pipefail
RUNS=${1:-runs}
S=${SHARED:-../shared/data}
train() {  # train NAME [heatmark train options]
  local name=$1; shift
  OMP_NUM_THREADS=1 heatmark train --config configs/models/$name.yaml --out "$RUNS/$name" --quiet "$@" \
    $( [ -f "$RUNS/$name/last.safetensors" ] && echo --resume )
}
train synthetic & train fast_synthetic & wait
python tools/package_model.py "$RUNS/synthetic" --name synthetic --eval-root "$S/300w_afw" \
  --label "no real landmark labels: 100 FaceSynthetics faces + 626 pseudo-labelled 300W-Helen photos" \
  --int8-calibrate "$S/300w_helen_train" --command "heatmark train --config configs/models/synthetic.yaml --out $RUNS/synthetic" --docs docs/results/synthetic
# the label adapter shipped with `synthetic` (a separate variant: fitted on Helen-train's real labels)
heatmark adapt --weights synthetic --dataset 300w --root "$S/300w_helen_train" \
  --out heatmark/weights/synthetic.300w-adapter.npz
# default starts from synthetic (the file packaged above), fast from fast_synthetic
train default & train fast --set "model.init=$RUNS/fast_synthetic/final.safetensors" & wait
# stage 2 of default starts from stage 1's final weights (the shipped run started from their float16 package)
train default_trim --set data.input_size=160 --set "model.init=$RUNS/default/final.safetensors"
python tools/package_model.py "$RUNS/default_trim" --name default --eval-root "$S/300w_afw" \
  --label "real labels: 870 300W-Helen-train faces; stage 1 started from synthetic, stage 2 trims the encoder and moves to 160 px" \
  --fit-offset "300w:$S/300w_helen_train" --int8-calibrate "$S/300w_helen_train" \
  --command "heatmark train --config configs/models/default_trim.yaml --out $RUNS/default_trim --set data.input_size=160" --docs docs/results/default_trim
# fast's second stage starts from its first's final weights, the third from the second's (the shipped runs started
# from their float16 packages); the third is distilled from `default`, packaged above
train fast_ft --set "model.init=$RUNS/fast/final.safetensors"
train fast_kd --set "model.init=$RUNS/fast_ft/final.safetensors"
python tools/package_model.py "$RUNS/fast_kd" --name fast --eval-root "$S/300w_afw" \
  --label "real labels: 870 300W-Helen-train faces (80 %) + 100 FaceSynthetics faces (20 %), started from fast_synthetic, then the real faces alone, then distilled from default; pixel-in-pixel MobileNetV3-small, 192 px" \
  --fit-offset "300w:$S/300w_helen_train" --int8-calibrate "$S/300w_helen_train" \
  --command "heatmark train --config configs/models/fast_kd.yaml --out $RUNS/fast_kd" --docs docs/results/fast
