"""The one evaluation pipeline: dataset + weights + boxes + decoder → per-face predictions → metrics.

``heatmark eval``, the benchmark grid, the shipped-model cards and the tests all call
:func:`evaluate_weights` (or, for several decoders of one model, :func:`load_eval_set` once and
:func:`evaluate_model` per decoder). Predictions are made on crops, mapped back to the original images, and
scored there. The trainer's validation uses the same :func:`predict_dataset` and :func:`evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from heatmark.data.crops import invert, transform_points
from heatmark.data.dataset import LandmarkDataset
from heatmark.data.records import Records
from heatmark.data.schemes import Scheme, can_convert, convert_points
from heatmark.engine.data import collate
from heatmark.engine.device import pick_device
from heatmark.engine.metrics import nme, summarize
from heatmark.errors import ConfigError
from heatmark.inference import CropPredictor

SUBSETS_300W = {"common": ("lfpw", "helen"), "challenging": ("ibug",)}


def predict_dataset(model: torch.nn.Module, codec, dataset: LandmarkDataset, batch_size: int = 32,
                    device: str | torch.device = "cpu", indices: list[int] | None = None,
                    decoder: str | None = None, flip: bool = False, backend: str = "torch",
                    scheme: Scheme | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Predictions (N, K, 2) in original-image pixels (model scheme) and scores (N, K), through the same
    :class:`~heatmark.inference.CropPredictor` as ``Landmarker`` (``flip``: flip test-time augmentation).
    ``scheme``: the model's, when the dataset's targets are in another one."""
    scheme = scheme or dataset.scheme
    predictor = CropPredictor(model, codec, scheme, dataset.input_size, backend, device, flip, decoder)
    return predict_crops(predictor, dataset, scheme.num_points, batch_size, indices)


def predict_crops(predictor, dataset: LandmarkDataset, k: int, batch_size: int = 32,
                  indices: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`predict_dataset` for any ``predictor(float crops (N, 3, S, S)) -> (points, scores)`` in crop pixels
    (a :class:`~heatmark.inference.CropPredictor`, or an ONNX file's predictor)."""
    idx = list(range(len(dataset))) if indices is None else list(indices)
    preds, scores = [], []
    for start in range(0, len(idx), batch_size):
        batch = collate([dataset[i] for i in idx[start:start + batch_size]])
        pts, score = predictor(batch["image"])
        preds.append(transform_points(invert(batch["matrix"].numpy()), pts))
        scores.append(score)
    if not preds:
        return np.zeros((0, k, 2)), np.zeros((0, k))
    return np.concatenate(preds), np.concatenate(scores)


def common_scheme(pred: np.ndarray, model_scheme: Scheme, records: Records):
    """Put predictions and ground truth in one scheme: the data's if the model converts to it, else the model's."""
    data_scheme = records[0].scheme
    gt = np.stack([r.landmarks for r in records]).astype(np.float64)
    vis = None
    if all(r.visible is not None for r in records):
        vis = np.stack([r.visible for r in records])
    if model_scheme.name == data_scheme.name:
        return pred, gt, vis, data_scheme
    if can_convert(model_scheme, data_scheme):
        return convert_points(pred, model_scheme, data_scheme), gt, vis, data_scheme
    if can_convert(data_scheme, model_scheme):
        vis = None if vis is None else convert_points(vis[..., None], data_scheme, model_scheme)[..., 0]
        return pred, convert_points(gt, data_scheme, model_scheme), vis, model_scheme
    raise ConfigError(f"cannot compare a {model_scheme.name} model with {data_scheme.name} annotations")


def subsets_300w(records: Records, root: str | Path) -> dict[str, np.ndarray]:
    """The 300W protocol's subsets when ``root`` holds lfpw/helen/ibug folders: common, challenging, full."""
    root = Path(root)
    top = np.array([r.image_path.relative_to(root).parts[0].lower() if r.image_path.is_relative_to(root) else ""
                    for r in records])
    if not any(t in ("lfpw", "helen", "ibug") for t in top):
        return {}
    out = {name: np.isin(top, folders) for name, folders in SUBSETS_300W.items()}
    out["full"] = np.isin(top, ("lfpw", "helen", "ibug"))
    return out


MIN_NORM_PX = 1.0  # a face whose normalising distance (e.g. outer eye corners) is shorter cannot be scored


def degenerate_faces(gt: np.ndarray, scheme: Scheme, norm: str = "default") -> np.ndarray:
    """(N,) bool: annotations whose normalising distance is not finite or under :data:`MIN_NORM_PX` pixels
    (coincident eye corners, say): their NME would divide by ~0."""
    d = scheme.norm_distance(gt, None if norm == "default" else norm)
    return ~np.isfinite(d) | (d < MIN_NORM_PX)


def _compared(pred: np.ndarray, model_scheme: Scheme, records: Records, norm: str):
    """Predictions and annotations in one scheme, and which faces cannot be scored (:func:`degenerate_faces`)."""
    p, g, vis, scheme = common_scheme(pred, model_scheme, records)
    bad = degenerate_faces(g, scheme, norm)
    if bad.all():
        raise ConfigError(f"none of the {len(records)} faces can be scored: every annotation's normalising "
                          f"distance ({norm}) is under {MIN_NORM_PX:g} px")
    return p, g, vis, scheme, bad


def _metrics(p, g, vis, scheme: Scheme, bad: np.ndarray, records: Records, norm: str,
             subsets: dict[str, np.ndarray] | None) -> dict:
    keep = ~bad
    res = summarize(p[keep], g[keep], scheme, norm, None if vis is None else vis[keep])
    res["scheme"] = scheme.name
    res["excluded"] = [f"{records[i].annotation_path or records[i].image_path}: normalising distance under "
                       f"{MIN_NORM_PX:g} px (degenerate annotation)" for i in np.flatnonzero(bad)]
    for name, mask in (subsets or {}).items():
        m = mask & keep
        if m.any():
            res[name] = summarize(p[m], g[m], scheme, norm, None if vis is None else vis[m])
    return res


def evaluate(pred: np.ndarray, model_scheme: Scheme, records: Records, norm: str = "default",
             subsets: dict[str, np.ndarray] | None = None) -> dict:
    """Metrics on the whole set (and per subset). ``pred`` in original-image pixels, model scheme. Faces whose
    annotation cannot normalise an error are left out and named in ``excluded``."""
    return _metrics(*_compared(pred, model_scheme, records, norm), records, norm, subsets)


def predict_with_detector(weights, records: Records, detector: str = "mtcnn", decoder: str | None = None,
                          flip: bool = False, upright: bool | None = None, refine: int | None = None):
    """Detect faces, match each annotated face to the detection overlapping its landmark box most
    (IoU >= 0.3), and predict from the detector's box (then ``refine`` passes, as ``Landmarker`` makes them).
    Returns (predictions, the found records, stats)."""
    import time

    from heatmark.api import UPRIGHT_DEFAULT, Landmarker
    from heatmark.detect import match_detection

    upright = UPRIGHT_DEFAULT if upright is None else upright

    lm = Landmarker(weights, detector=detector, decoder=decoder, flip=flip, upright=upright, refine=refine)
    preds, found, times = [], [], []
    for r in records:
        img = r.load_image()
        t = time.perf_counter()
        boxes, _, crops, rolls = lm.detect_crops(img)
        times.append(time.perf_counter() - t)
        j = match_detection(boxes, r.landmarks)
        if j is None:
            continue
        pts, _ = lm.predict_boxes(img, [crops[j]], rolls[j:j + 1])
        preds.append(pts[0])
        found.append(r)
    k = lm.scheme.num_points
    stats = {"faces": len(records), "found": len(found), "detector_recall": len(found) / max(len(records), 1),
             "detector": detector, "detector_ms_per_image": float(np.median(times) * 1000) if times else None}
    return (np.stack(preds) if preds else np.zeros((0, k, 2))), Records(found), stats


def refine_predictions(weights, records: Records, pred: np.ndarray, refine: int, decoder: str | None = None,
                       flip: bool = False, device: str | None = "auto") -> np.ndarray:
    """``refine`` more passes per face after ``pred`` (image pixels, one face per record), each on the crop cut
    around the previous pass's points, as ``Landmarker(refine=...)`` makes them (flip on the last pass only)."""
    from heatmark.api import Landmarker
    from heatmark.refine import refinement_boxes

    if not len(pred):
        return pred
    backend = "onnx" if Path(weights).suffix.lower() == ".onnx" else "torch"  # the backend of the first pass
    lm = Landmarker(weights, detector=None, backend=backend, decoder=decoder, flip=flip, refine=refine - 1,
                    device="cpu" if backend == "onnx" else str(pick_device(device)))
    boxes = refinement_boxes(pred, np.zeros(len(pred)), lm.box_scale, lm.scheme.box_expand)
    return np.stack([lm.predict_boxes(r.load_image(), [b])[0][0] for r, b in zip(records, boxes)])


@dataclass
class EvalSet:
    """An annotated dataset ready for a model: its records and the crops the model sees."""

    dataset: LandmarkDataset
    records: Records
    name: str = ""
    root: str = ""
    skipped: list = field(default_factory=list)


@dataclass
class Evaluation:
    """What one evaluation produced: metrics (dict, NME/FR/AUC in %), predictions in original-image pixels
    (model scheme), the records scored; and in the scheme both are compared in (``scheme``): the predictions
    (``points``), the annotations (``gt``) and per-image NME (fractions)."""

    metrics: dict
    pred: np.ndarray
    records: Records
    per_image: np.ndarray
    scheme: Scheme
    points: np.ndarray
    gt: np.ndarray


def load_eval_set(dataset: str, root: str | Path, input_size: int, box_scale: float, model_scheme: Scheme,
                  scheme: str | None = None, skip_bad: bool = False, cache_dir: str | Path | None = None,
                  tag: str | None = None) -> EvalSet:
    """Read an annotated dataset and crop every face as a model of ``input_size`` / ``box_scale`` expects
    (ground-truth boxes). ``cache_dir``: keep the crops on disk for the next evaluation (None: in memory)."""
    from heatmark.data.cache import CropCache
    from heatmark.data.readers import load_dataset

    records = load_dataset(dataset, root, scheme=scheme, skip_bad=skip_bad)
    cache = CropCache(records, size=int(input_size), context=float(box_scale), cache_dir=cache_dir,
                      tag=tag or f"eval-{dataset}-{Path(str(root)).resolve().name}", skip_bad=skip_bad)
    # targets in the model's scheme when the data converts to it; else (5-point data, 68-point model) the data's
    # own: evaluation needs only the crops, and common_scheme compares in the scheme both convert to
    target = model_scheme if can_convert(cache.scheme, model_scheme) else cache.scheme
    ds = LandmarkDataset(cache, input_size=int(input_size), target_scheme=target, box_scale=float(box_scale))
    return EvalSet(ds, Records(cache.records), dataset, str(root), records.skipped + cache.skipped)


def score(pred: np.ndarray, model_scheme: Scheme, records: Records, norm: str = "default",
          subsets: dict[str, np.ndarray] | None = None) -> Evaluation:
    """Metrics and per-image NME of predictions (original-image pixels, model scheme) against ``records``."""
    p, g, vis, sch, bad = _compared(pred, model_scheme, records, norm)
    metrics = _metrics(p, g, vis, sch, bad, records, norm, subsets)
    keep = ~bad
    if not keep.all():
        records = Records([r for r, k in zip(records, keep) if k])
        pred, p, g, vis = pred[keep], p[keep], g[keep], None if vis is None else vis[keep]
    return Evaluation(metrics, pred, records, nme(p, g, sch, norm, vis), sch, p, g)


def evaluate_model(model: torch.nn.Module, codec, model_scheme: Scheme, data: EvalSet, decoder: str | None = None,
                   flip: bool = False, norm: str = "default", batch_size: int = 32, device: str | None = "auto",
                   subsets: bool = True, adapter=None) -> Evaluation:
    """Predict every face of ``data`` with ``model`` (GT boxes) and score it. ``subsets``: the 300W protocol's
    common/challenging/full subsets too, when the root holds lfpw/helen/ibug folders. ``adapter``: a
    :class:`heatmark.adapter.LabelAdapter` applied to the predictions first."""
    pred = predict_eval_set(model, codec, model_scheme, data, decoder, flip, batch_size, device)
    return score_eval_set(pred, model_scheme, data, norm, subsets, adapter)


def predict_eval_set(model: torch.nn.Module, codec, model_scheme: Scheme, data: EvalSet, decoder: str | None = None,
                     flip: bool = False, batch_size: int = 32, device: str | None = "auto") -> np.ndarray:
    """Predictions (N, K, 2) in original-image pixels of every face of ``data`` (GT boxes), on ``device``."""
    dev = pick_device(device)
    model.to(dev)
    return predict_dataset(model, codec, data.dataset, batch_size, dev, decoder=decoder, flip=flip,
                           scheme=model_scheme)[0]


def score_eval_set(pred: np.ndarray, model_scheme: Scheme, data: EvalSet, norm: str = "default",
                   subsets: bool = True, adapter=None) -> Evaluation:
    """:func:`score` for predictions on an :class:`EvalSet` (the adapter applied first; 300W subsets if asked)."""
    if adapter is not None:
        pred = adapter(pred)
    subs = subsets_300w(data.records, data.root) if subsets and data.name == "300w" else {}
    return score(pred, model_scheme, data.records, norm, subs)


def evaluate_weights(weights: str | Path, dataset: str, root: str | Path, *, scheme: str | None = None,
                     boxes: str = "gt", detector: str = "mtcnn", decoder: str | None = None, flip: bool = False,
                     norm: str = "default", batch_size: int = 32, device: str | None = "auto",
                     skip_bad: bool = False, cache_dir: str | Path | None = None,
                     adapter: str | Path | None = None, upright: bool | None = None,
                     refine: int | None = None) -> Evaluation:
    """Evaluate a weights file on an annotated dataset (what ``heatmark eval`` runs).

    Args:
        weights: a ``.safetensors`` / ``.onnx`` file or a shipped model's name.
        dataset: a reader name (:func:`heatmark.data.readers.load_dataset`).
        root: the dataset's folder or list file.
        scheme: read the dataset in this scheme (None: its own; converted to the model's when they differ).
        boxes: ``"gt"`` (crops from the annotation) or ``"detector"`` (faces found by ``detector``, matched to
            the annotations; metrics over the found faces, and ``metrics`` gains faces / found / detector_recall).
        detector: with ``boxes="detector"``: ``mtcnn``, ``opencv`` or ``dlib``.
        decoder: a heatmap decoder overriding the model's.
        flip: horizontal-flip test-time augmentation.
        norm: NME normalisation: ``"default"`` (the scheme's) or a named extra one (``"inter_pupil"``).
        batch_size: faces per network batch.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` (torch models).
        skip_bad: skip unreadable samples (listed) instead of stopping.
        cache_dir: where decoded crops are cached (None: no cache).
        adapter: a label adapter file or shipped adapter name, applied to the predictions.
        upright: with detector boxes, turn crops upright by the detector's eye points (None: the default).
        refine: extra passes per face on crops cut around the previous pass's points (``Landmarker(refine=)``);
            with ``flip``, only the last pass is flipped. None: ``Landmarker``'s default for the detector (GT
            boxes: 0).

    Returns:
        An ``Evaluation`` with metrics (NME, NME without jaw, FR, AUC, per-region NME, mean signed error, in
        %), predictions in image pixels and per-image NME.

    Raises:
        DataError: a missing or bad dataset or weights file (named).
        HeatmarkError: schemes that cannot be compared, a bad option value.

    Examples:
        >>> ev = evaluate_weights("default", "300w", "../shared/data/300w_afw")
        >>> round(ev.metrics["nme"], 2)
    """
    from heatmark.checkpoint import load_model
    from heatmark.errors import HeatmarkError
    from heatmark.refine import refine_passes
    from heatmark.shipped import resolve_weights

    weights = resolve_weights(weights)  # a shipped model's name, as the examples above use it
    refine = refine_passes(refine, detector if boxes == "detector" else None)
    if Path(weights).suffix.lower() == ".onnx":  # an exported (or int8) model: onnxruntime, as users run it
        from heatmark.onnx_runtime import OnnxPredictor

        onnx = OnnxPredictor(weights, flip, decoder)
        model, codec, model_scheme, meta = None, onnx.codec, onnx.scheme, onnx.meta
    else:
        model, codec, model_scheme, meta = load_model(weights)
    fix = None
    if adapter is not None:
        from heatmark.adapter import LabelAdapter
        from heatmark.shipped import resolve_adapter

        fix = LabelAdapter.load(resolve_adapter(adapter, Path(weights)))
    if boxes == "detector":
        from heatmark.data.readers import load_dataset

        records = load_dataset(dataset, root, scheme=scheme, skip_bad=skip_bad)
        pred, found, stats = predict_with_detector(weights, records, detector, decoder, flip, upright, refine)
        pred = fix(pred) if fix is not None and len(pred) else pred
        if not found:
            raise HeatmarkError(f"the {detector} detector found none of the {stats['faces']} faces")
        subs = subsets_300w(found, root) if dataset == "300w" else {}
        result = score(pred, model_scheme, found, norm, subs)
        result.metrics.update(stats)
        result.metrics["skipped"] = [str(e) for e in records.skipped]
    elif boxes == "gt":
        data = load_eval_set(dataset, root, int(meta["input_size"]), float(meta["box_scale"]), model_scheme, scheme,
                             skip_bad, cache_dir)
        first_flip = flip and not refine  # with refinement passes, only the last one is flipped
        if model is None:
            pred, _ = predict_crops(lambda x: onnx(x.numpy(), first_flip), data.dataset, model_scheme.num_points,
                                    batch_size)
        else:
            pred = predict_eval_set(model, codec, model_scheme, data, decoder, first_flip, batch_size, device)
        if refine:
            pred = refine_predictions(weights, data.records, pred, refine, decoder, flip, device)
        result = score_eval_set(pred, model_scheme, data, norm, adapter=fix)
        result.metrics["skipped"] = [str(e) for e in data.skipped]
    else:
        raise HeatmarkError(f"boxes must be 'gt' or 'detector', got {boxes!r}")
    result.metrics.update({"weights": str(weights), "dataset": dataset, "root": str(root), "boxes": boxes,
                           "flip": flip, "refine": refine, "decoder": decoder or getattr(codec, "decoder", None),
                           "adapter": None if adapter is None else str(adapter)})
    return result
