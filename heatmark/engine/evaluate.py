"""Evaluation: predict on a dataset's crops, map back to the original images, compute metrics there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from heatmark.codecs.tta import decode_flip_tta
from heatmark.data.crops import invert, transform_points
from heatmark.data.dataset import LandmarkDataset
from heatmark.data.records import Records
from heatmark.data.schemes import Scheme, can_convert, convert_points
from heatmark.engine.data import collate
from heatmark.engine.metrics import summarize
from heatmark.errors import ConfigError

SUBSETS_300W = {"common": ("lfpw", "helen"), "challenging": ("ibug",)}


@torch.inference_mode()
def predict_dataset(model: torch.nn.Module, codec, dataset: LandmarkDataset, batch_size: int = 32,
                    device: str | torch.device = "cpu", indices: list[int] | None = None,
                    decoder: str | None = None, flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Predictions (N, K, 2) in original-image pixels (model scheme) and scores (N, K). ``flip``: average
    with the mirrored prediction on the flipped crop (test-time augmentation, as ``Landmarker(flip=True)``)."""
    model.eval()
    idx = list(range(len(dataset))) if indices is None else list(indices)
    preds, scores = [], []
    for start in range(0, len(idx), batch_size):
        batch = collate([dataset[i] for i in idx[start:start + batch_size]])
        x = batch["image"].to(device)
        if x.is_cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        if flip:
            pts, score = decode_flip_tta(lambda t: model(t).float(), codec, x, dataset.scheme.flip_index, decoder)
        else:
            pts, score = codec.decode(model(x).float(), decoder)
        m_inv = invert(batch["matrix"].numpy())
        preds.append(transform_points(m_inv, pts.cpu().double().numpy()))
        scores.append(score.cpu().numpy())
    k = dataset.scheme.num_points
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


def evaluate(pred: np.ndarray, model_scheme: Scheme, records: Records, norm: str = "default",
             subsets: dict[str, np.ndarray] | None = None) -> dict:
    """Metrics on the whole set (and per subset). ``pred`` in original-image pixels, model scheme."""
    p, g, vis, scheme = common_scheme(pred, model_scheme, records)
    res = summarize(p, g, scheme, norm, vis)
    res["scheme"] = scheme.name
    for name, mask in (subsets or {}).items():
        if mask.any():
            res[name] = summarize(p[mask], g[mask], scheme, norm, None if vis is None else vis[mask])
    return res


def predict_with_detector(weights, records: Records, detector: str = "opencv", decoder: str | None = None,
                          flip: bool = False):
    """Detect faces, match each annotated face to the detection overlapping its landmark box most
    (IoU >= 0.3), and predict from the detector's box. Returns (predictions, the found records, stats)."""
    from heatmark.api import Landmarker
    from heatmark.detect import crop_box_from_detection

    lm = Landmarker(weights, detector=detector, decoder=decoder, flip=flip)
    preds, found = [], []
    for r in records:
        img = r.load_image()
        boxes, _ = lm.detector(img)
        if len(boxes) == 0:
            continue
        lo, hi = r.landmarks.min(0), r.landmarks.max(0)
        lt = np.maximum(lo, boxes[:, :2])
        rb = np.minimum(hi, boxes[:, 2:])
        inter = np.clip(rb - lt, 0, None).prod(1)
        union = (hi - lo).prod() + (boxes[:, 2:] - boxes[:, :2]).prod(1) - inter
        iou = inter / np.maximum(union, 1e-9)
        j = int(np.argmax(iou))
        if iou[j] < 0.3:
            continue
        pts, _ = lm.predict_boxes(img, [crop_box_from_detection(boxes[j], detector, lm.box_scale)])
        preds.append(pts[0])
        found.append(r)
    k = lm.scheme.num_points
    stats = {"faces": len(records), "found": len(found), "detector_recall": len(found) / max(len(records), 1),
             "detector": detector}
    return (np.stack(preds) if preds else np.zeros((0, k, 2))), Records(found), stats
