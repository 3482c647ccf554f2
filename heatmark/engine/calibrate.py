"""Label-bias calibration: the per-point offset a mirror-symmetric model cannot learn.

Flip augmentation makes a model (nearly) mirror-symmetric, while human labels are not: on 300W the inner points
sit on average about a pixel to one side of where a mirrored annotation would put them. The model then predicts
the average of a point and its mirrored partner, off by that bias on every face. :func:`fit_point_offset`
measures the mean residual (ground truth − prediction) of each point **on the model's training labels** (GT
boxes, the same crops as evaluation), in crop pixels; stored as the codec's ``point_offset``, the predictors
(:class:`heatmark.inference.CropPredictor`, :class:`heatmark.onnx_runtime.OnnxPredictor`) add it after decoding
and flip averaging. Fit it only on data the model trained on (never on an evaluation set).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from heatmark.engine.data import collate
from heatmark.engine.evaluate import load_eval_set
from heatmark.inference import CropPredictor


def fit_point_offset(model, codec, scheme, meta: dict, dataset: str, root: str | Path, flip: bool = False,
                     batch_size: int = 32, trim: float = 0.1) -> tuple[np.ndarray, dict]:
    """(K, 2) offset in crop pixels and a summary: per point, the mean of (label − prediction) over the faces
    of ``dataset``/``root``, after dropping the ``trim`` share of faces with the largest error on each side
    (a few failed faces would otherwise pull the mean). ``flip``: fit for flip test-time augmentation."""
    data = load_eval_set(dataset, root, int(meta["input_size"]), float(meta["box_scale"]), scheme)
    saved, codec.point_offset = getattr(codec, "point_offset", None), None
    try:
        predictor = CropPredictor(model, codec, scheme, data.dataset.input_size, flip=flip)
        residuals = []
        for start in range(0, len(data.dataset), batch_size):
            batch = collate([data.dataset[i] for i in range(start, min(start + batch_size, len(data.dataset)))])
            pts, _ = predictor(batch["image"])
            residuals.append(batch["landmarks"].numpy().astype(np.float64) - pts)
    finally:
        codec.point_offset = saved
    res = np.concatenate(residuals)  # (N, K, 2)
    n = len(res)
    cut = int(n * trim)
    ordered = np.sort(res, axis=0)  # per point and axis: a trimmed mean
    offset = ordered[cut:n - cut].mean(0) if n - 2 * cut > 0 else res.mean(0)
    summary = {"faces": n, "dataset": dataset, "root": str(root), "flip": flip, "trim": trim,
               "mean_offset_px": [round(float(v), 3) for v in offset.mean(0)],
               "mean_abs_offset_px": round(float(np.abs(offset).mean()), 3)}
    return offset, summary
