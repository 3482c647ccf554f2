"""The trainer's GPU path: CUDA, mixed precision, channels-last. Skipped where torch sees no GPU (CI, the
2-core development machine); run on a lent device with ``python -m pytest tests/test_cuda.py``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_train import small_cfg

from heatmark.checkpoint import load_model
from heatmark.engine.evaluate import predict_dataset
from heatmark.engine.trainer import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _quiet(*a, **k):
    pass


@pytest.mark.parametrize("head", ["heatmap", "regression"])
def test_cuda_mixed_precision_trains_and_loads_on_cpu(fixtures, tmp_path, head):
    cfg = small_cfg(fixtures, tmp_path, head, epochs=3, extra=["optim.warmup_steps=0"])
    t = Trainer(cfg, tmp_path / "run", progress=False, log=_quiet)
    assert t.cuda and t.amp_dtype in (torch.bfloat16, torch.float16)
    assert next(t.model.parameters()).is_cuda
    t.fit()
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(x["train_loss"]) and np.isfinite(x["val_nme"]) for x in lines)
    assert lines[-1]["train_loss"] < lines[0]["train_loss"]
    assert lines[-1]["skipped_batches"] == 0

    # weights trained on the GPU load on the CPU and predict the same points there. fp32 on both sides: cuDNN
    # convolutions default to TF32 (10-bit mantissa), which moved points of this barely trained model (flat
    # heatmaps) by up to 0.5 px on an H100, so TF32 is off for the comparison
    model, codec, _, _ = load_model(tmp_path / "run" / "final.safetensors")
    pred_cpu, _ = predict_dataset(model, codec, t.val_data, 4, torch.device("cpu"))
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        pred_gpu, _ = predict_dataset(model.to("cuda"), codec, t.val_data, 4, torch.device("cuda"))
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    assert np.abs(np.asarray(pred_cpu) - np.asarray(pred_gpu)).max() < 0.01  # pixels at 64x64 input
