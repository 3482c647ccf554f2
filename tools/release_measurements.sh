#!/usr/bin/env bash
# Every measurement behind the README's and docs' numbers for a release, in one run on a quiet machine (nothing
# else running: a training beside it makes the times meaningless). Run after tools/train_default.sh.
#   bash tools/release_measurements.sh > release_measurements.log
#   CANDIDATES="runs/fast_unet runs/pip_fast" bash tools/release_measurements.sh ...   # unshipped runs on the frontier
#   ACCURACY_ONLY=1 bash tools/release_measurements.sh ...   # only the accuracy parts (these may run beside a training)
set -euo pipefail
timed() { [ "${ACCURACY_ONLY:-0}" != 1 ]; }
S=${SHARED:-../shared/data}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'); load average: $(cut -d' ' -f1 /proc/loadavg)${ACCURACY_ONLY:+; accuracy parts only}"
MODELS=$(python -c "from heatmark.shipped import shipped_models; print(*shipped_models())")
for w in $MODELS; do
  echo "## heatmark eval --weights $w (GT boxes; flip TTA; MTCNN boxes upright and not)"
  heatmark eval --dataset 300w --root "$S/300w_afw" --weights $w
  heatmark eval --dataset 300w --root "$S/300w_afw" --weights $w --flip
  heatmark eval --dataset 300w --root "$S/300w_afw" --weights $w --boxes detector
  heatmark eval --dataset 300w --root "$S/300w_afw" --weights $w --boxes detector --no-upright
done
echo "## training-set error: the real-label models on the 870 Helen-train faces they trained on (GT boxes)"
for w in default fast; do heatmark eval --dataset 300w --root "$S/300w_helen_train" --weights $w; done
echo "## synthetic + its shipped label adapter (fitted on Helen-train's real labels)"
heatmark eval --dataset 300w --root "$S/300w_afw" --weights synthetic --adapter 300w
echo "## dlib's shape predictor and heatmark on the same faces and HOG boxes"
python tools/dlib_accuracy.py --root "$S/300w_afw" --also $MODELS
if timed; then
echo "## speed against dlib"
heatmark bench speed --against dlib --images "$S/300w_afw" --limit 60 --repeats 10 --write docs/speed.md \
  ${CANDIDATES:+--candidates $CANDIDATES}
echo "## detectors"
heatmark bench detectors --detectors mtcnn mtcnn:48 opencv dlib --root "$S/300w_afw" --root "$S/300w_helen_train" --write docs/detectors.md
echo "## candidate networks (network only, onnxruntime, 1 and 2 threads)"
python tools/probe_arch_speed.py --threads 1 --repeats 200
python tools/probe_arch_speed.py --threads 2 --repeats 200
echo "## video: 640x480 clip from the fixtures, tracking"
python tools/make_video.py /tmp/heatmark_clip.mp4
heatmark video /tmp/heatmark_clip.mp4 --out /tmp/heatmark_clip_out.mp4
fi
echo "## AFW turned by +-30 degrees: MTCNN boxes with and without upright crops"
python tools/make_rotated_set.py "$S/300w_afw" /tmp/heatmark_afw_rot30 --degrees 30
heatmark eval --dataset 300w --root /tmp/heatmark_afw_rot30 --weights default --boxes detector
heatmark eval --dataset 300w --root /tmp/heatmark_afw_rot30 --weights default --boxes detector --no-upright
