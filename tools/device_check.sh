#!/usr/bin/env bash
# Training on a lent GPU (CUDA + mixed precision): the CUDA tests, then runs of the benchmark's head-study heatmap
# recipe (configs/heatmap.yaml, 1500 steps x 16 on the 100 FaceSynthetics faces, as the grid trains it on the CPU,
# with 8 loader workers). AFW does not fit beside the training data in what a device call may carry, so runs
# train without validation; their final weights come back as float16 files (two 15 MB pieces each) and are
# scored on the CPU machine:
#   cat OUT/NAME-sSEED.part-* > runs/device/NAME-sSEED.safetensors
#   heatmark eval --dataset 300w --root ../shared/data/300w_afw --weights runs/device/NAME-sSEED.safetensors
# CONFIG (default configs/heatmap.yaml) and STEPS (default 1500) pick another recipe and budget, e.g.
# CONFIG=configs/default.yaml STEPS=6000 for the shipped default model's recipe.
# RUNS: space-separated NAME:SEED[:CODE], CODE a folder holding another heatmark package to train with (e.g.
# a copy of an older commit's, to compare before and after a change); TESTS=0 skips the tests.
# Carried (git-ignored): .whl (wheels the device image lacks: segmentation_models_pytorch, albumentations,
# albucore, pydantic, pydantic_core, annotated_types, typing_inspection, simsimd, stringzilla) and
# .carry/facesynthetics_100 (../shared/data/facesynthetics_100, PNGs recompressed losslessly).
set -uo pipefail
OUT=${OUT:-runs/device_out}
RUNS=${RUNS:-"current:0"}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1
nvidia-smi -L
if [ "${TESTS:-1}" = 1 ]; then
  PYTHONPATH=/tmp/site:$PWD python3 -m pytest -q -p no:cacheprovider -o addopts="" tests/test_cuda.py tests/test_train.py \
    2>&1 | tee "$OUT/pytest.log" | tail -5
  [ "${TESTS_ONLY:-0}" = 1 ] && exit 0
fi
for r in $RUNS; do
  IFS=: read -r name seed code <<< "$r"
  run=/tmp/device_runs/$name-s$seed
  start=$(date +%s)
  # -c with an explicit sys.path entry: `python -m` would put the working directory (this checkout) first
  PYTHONPATH=/tmp/site python3 -c "import sys; sys.path.insert(0, '${code:-$PWD}'); import heatmark.cli as c; \
print('heatmark from', c.__file__); sys.exit(c.main())" train --config "${CONFIG:-configs/heatmap.yaml}" \
    --train facesynthetics:.carry/facesynthetics_100 --no-val --out "$run" --max-steps "${STEPS:-1500}" --seed "$seed" --quiet \
    --set data.samples_per_epoch=1600 --set optim.batch_size=16 --set data.workers=8 > "$OUT/$name-s$seed.log" 2>&1 \
    || { tail -20 "$OUT/$name-s$seed.log"; continue; }
  echo "$name seed $seed: $(( $(date +%s) - start )) s; $(tail -1 "$run/metrics.jsonl")"
  PYTHONPATH=/tmp/site:$PWD python3 - "$run/final.safetensors" "$run/half.safetensors" <<'PY'
import sys
from heatmark.checkpoint import half_parameters, load_tensors, save_tensors
t, meta = load_tensors(sys.argv[1])
save_tensors(sys.argv[2], half_parameters(t), {**meta, "weights": "final, parameters stored as float16 for transport"})
PY
  split -b 15M "$run/half.safetensors" "$OUT/$name-s$seed.part-"
done
