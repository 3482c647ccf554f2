"""Fitting a label adapter (:mod:`heatmark.adapter`) from a model's predictions on an annotated real set.

The model predicts every face of the fitting set (ground-truth boxes, through the evaluation pipeline); the
ridge penalty is chosen by K-fold cross-validation on that set alone, then the adapter is fitted on all of it.
Nothing but the fitting set's own files is read: keep the evaluation set (AFW) out of it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from heatmark.adapter import LabelAdapter
from heatmark.engine.evaluate import common_scheme, load_eval_set, predict_dataset
from heatmark.engine.metrics import nme

RIDGES = (0.01, 0.1, 1.0, 10.0, 100.0)


def cross_validate(pred: np.ndarray, gt: np.ndarray, scheme, ridges=RIDGES, folds: int = 5,
                   seed: int = 0) -> dict[float, float]:
    """Mean NME (%) of held-out folds for each ridge value."""
    order = np.random.default_rng(seed).permutation(len(pred))
    parts = np.array_split(order, folds)
    out = {}
    for r in ridges:
        errs = np.zeros(len(pred))
        for k in range(folds):
            test = parts[k]
            train = np.concatenate([parts[j] for j in range(folds) if j != k])
            ad = LabelAdapter.fit(pred[train], gt[train], r)
            errs[test] = nme(ad(pred[test]), gt[test], scheme)
        out[float(r)] = float(errs.mean() * 100)
    return out


def annotated_predictions(weights: str | Path, dataset: str, root: str | Path, device: str | None = "auto"):
    """The model's predictions (ground-truth boxes, through the evaluation pipeline) and the annotations of every
    face at ``root``, both (N, K, 2) in the model's points, and that scheme."""
    from heatmark.checkpoint import load_model
    from heatmark.engine.device import pick_device

    model, codec, scheme, meta = load_model(weights)
    data = load_eval_set(dataset, root, int(meta["input_size"]), float(meta["box_scale"]), scheme)
    model.to(pick_device(device))
    pred, _ = predict_dataset(model, codec, data.dataset, 32, pick_device(device), scheme=scheme)
    p, g, _, sch = common_scheme(pred, scheme, data.records)
    if sch.num_points != scheme.num_points:
        from heatmark.errors import HeatmarkError

        raise HeatmarkError(f"the {dataset} annotations ({data.records[0].scheme.name}) do not convert to the "
                            f"model's {scheme.name} points; an adapter needs the model's own points annotated")
    return p, g, sch


def fit_adapter(weights: str | Path, dataset: str, root: str | Path, ridges=RIDGES, folds: int = 5,
                device: str | None = "auto", log=print) -> tuple[LabelAdapter, dict]:
    """Predict ``dataset`` at ``root`` with ``weights`` and fit an adapter to its annotations."""
    p, g, sch = annotated_predictions(weights, dataset, root, device)
    before = float(nme(p, g, sch).mean() * 100)
    cv = cross_validate(p, g, sch, ridges, folds)
    best = min(cv, key=cv.get)
    log(f"{len(p)} faces: NME {before:.3f}% without an adapter; {folds}-fold CV NME by ridge: "
        + ", ".join(f"{r:g}: {v:.3f}%" for r, v in cv.items()) + f" -> ridge {best:g}")
    ad = LabelAdapter.fit(p, g, best, info={"weights": str(weights), "dataset": dataset, "root": str(root),
                                            "cv_nme": cv, "nme_without": before})
    return ad, {"n": len(p), "nme_without": before, "cv_nme": cv, "ridge": best}
