#!/usr/bin/env bash
# Distillation on a lent GPU (issue #20): train a large heatmap teacher (configs/models/teacher_r18.yaml), then
# students with `default`'s network from the shipped `default` weights, with and without the teacher, side by side.
# One device call (about 8 minutes; the 15 minutes a session is lent cannot hold a rerun of all of it):
#   1. a 200-step probe of the teacher measures its images/s; the teacher's step count is set from it so that its
#      cosine schedule ends within TEACHER_SECONDS (default 230);
#   2. students, side by side: ctl (a second cosine tail of `default`: 2000 steps x 16 at lr 1e-4, as
#      docs/results/default_trim's trim160_tail on the CPU), kd5 / kd8 (the same with the teacher's heatmaps at
#      weight 0.5 / 0.8), kd5long (kd5 with 6000 steps);
#   3. final weights as float16 files (the teacher in two 15 MB pieces) and a tarball of logs and metrics in $OUT.
# Training reads a shrunk copy of 300W-Helen-train (the 64 MiB a call may carry), made here by
#   python tools/make_carry_crops.py ../shared/data/300w_helen_train .carry/helen --box 128 --context 1.95 --quality 87
# and the wheels the device image lacks in .whl (see tools/device_check.sh; for the versions of this venv:
#   for p in segmentation_models_pytorch==0.6.0 albumentations==2.0.8 albucore==0.0.24 pydantic==2.14.4 \
#       pydantic_core==2.50.5 annotated_types==0.8.0 typing_inspection==0.4.5 simsimd==6.5.16 stringzilla==5.3.2; do
#     pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl $p; done
# 7.8 MB; with the 42 MB of tracked files and the 12 MB of crops a call carries ~62 MB of its 64 MiB).
# The call: device `run` with command `OUT=$OUT bash tools/device_distill.sh`, carry [".whl", ".carry/helen"],
# timeout 590 s. Runs train without validation (AFW does not travel); the returned students and teacher are scored
# here on the full-resolution AFW with tools/package_model.py, as docs/results/default_trim's runs were.
# DEVICE=cpu PROBE_STEPS=4 TEACHER_STEPS=6 STUDENT_STEPS=4 LONG_STEPS=6 TEACHER_WORKERS=2 runs the whole script on
# the CPU in about 2.5 minutes, to check it before a lease.
set -uo pipefail
OUT=${OUT:-runs/device_out}
RUNS=${RUNS_DIR:-/tmp/device_runs}
DEVICE=${DEVICE:-cuda}
HELEN=${HELEN:-.carry/helen}
LOGS=$RUNS/logs
mkdir -p "$OUT" "$LOGS"
if [ "$DEVICE" = cuda ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site:$PWD
  nvidia-smi -L
fi
export PYTHONUNBUFFERED=1 HEATMARK_CACHE=$RUNS/cache
hm() { python3 -m heatmark "$@"; }
train_teacher() {  # OUT_DIR STEPS [options]
  local out=$1 steps=$2; shift 2
  hm train --config configs/models/teacher_r18.yaml --train "300w:$HELEN" --no-val --out "$out" --device "$DEVICE" \
    --max-steps "$steps" --quiet --force --set data.workers=${TEACHER_WORKERS:-12} "$@"
}
t0=$(date +%s)
# 1. the probe: two epochs of 100 steps; the second one's speed sets the teacher's budget
train_teacher "$RUNS/probe" "${PROBE_STEPS:-200}" --set data.samples_per_epoch=3200 > "$LOGS/probe.log" 2>&1 \
  || { tail -30 "$LOGS/probe.log"; exit 1; }
ips=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])['img_per_s'])" \
  "$RUNS/probe/metrics.jsonl")
steps=${TEACHER_STEPS:-$(python3 -c "print(min(40000, int(${TEACHER_SECONDS:-230} * $ips / 32) // 100 * 100))")}
echo "probe: $ips img/s ($(( $(date +%s) - t0 )) s so far) -> teacher $steps steps x 32"
train_teacher "$RUNS/teacher_r18" "$steps" > "$LOGS/teacher_r18.log" 2>&1 || { tail -30 "$LOGS/teacher_r18.log"; exit 1; }
echo "teacher: $(( $(date +%s) - t0 )) s so far; $(tail -1 "$RUNS/teacher_r18/metrics.jsonl")"
# 2. the students, side by side
student() {  # NAME STEPS [options]
  local name=$1 steps=$2; shift 2
  local left=$(( ${DEADLINE:-530} - ($(date +%s) - t0) ))  # a student still training then is stopped (no weights)
  timeout "$left" python3 -m heatmark train --config configs/models/default_trim.yaml --train "300w:$HELEN" --no-val --out "$RUNS/$name" \
    --device "$DEVICE" --max-steps "$steps" --quiet --force --set data.input_size=160 --set model.init=default \
    --set optim.lr=0.0001 --set data.workers=3 "$@" > "$LOGS/$name.log" 2>&1 \
    && echo "$name: $(( $(date +%s) - t0 )) s so far; $(tail -1 "$RUNS/$name/metrics.jsonl")" \
    || { echo "$name FAILED"; tail -30 "$LOGS/$name.log"; }
}
T=$RUNS/teacher_r18/final.safetensors
S=${STUDENT_STEPS:-2000}
student ctl "$S" &
student kd5 "$S" --set "distill={teacher: $T, weight: 0.5}" &
student kd8 "$S" --set "distill={teacher: $T, weight: 0.8}" &
student kd5long "${LONG_STEPS:-6000}" --set "distill={teacher: $T, weight: 0.5}" &
wait
# 3. float16 weights back; logs, configs and metrics in one tarball
python3 - "$RUNS" "$OUT" <<'PY'
import sys
from pathlib import Path
from heatmark.checkpoint import half_parameters, load_tensors, save_tensors
runs, out = Path(sys.argv[1]), Path(sys.argv[2])
for name in ("teacher_r18", "ctl", "kd5", "kd8", "kd5long"):
    f = runs / name / "final.safetensors"
    if f.is_file():
        t, meta = load_tensors(f)
        save_tensors(runs / name / "half.safetensors", half_parameters(t),
                     {**meta, "weights": "final, parameters stored as float16 for transport"})
PY
# at most 8 files come back: two teacher pieces, four students, one tarball
split -b 15M "$RUNS/teacher_r18/half.safetensors" "$OUT/teacher_r18.part-"
for n in ctl kd5 kd8 kd5long; do cp "$RUNS/$n/half.safetensors" "$OUT/$n.safetensors"; done
tar czf "$OUT/runs.tgz" -C "$RUNS" --exclude='*.safetensors' logs probe teacher_r18 ctl kd5 kd8 kd5long
ls -la "$OUT"; echo "total $(( $(date +%s) - t0 )) s"
