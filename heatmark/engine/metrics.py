"""Landmark metrics, vectorised over images and points.

NME is the mean point-to-point error divided by a normalising distance (the scheme's default: outer eye
corners for 68/98 points, pupils for COFW), per image. FR@t is the share of images with NME > t; AUC@t is
the area under the cumulative error distribution (CED) from 0 to t, divided by t (1.0 = every image perfect).
"""

from __future__ import annotations

import numpy as np

from heatmark.data.schemes import Scheme


def point_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N, K, 2) × 2 → (N, K) Euclidean distances in pixels."""
    return np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), axis=-1)


def nme(pred: np.ndarray, gt: np.ndarray, scheme: Scheme, norm: str = "default",
        visible: np.ndarray | None = None) -> np.ndarray:
    """Per-image NME (N,) as a fraction (multiply by 100 for %). Hidden points (visible False) are ignored."""
    err = point_errors(pred, gt)
    d = scheme.norm_distance(np.asarray(gt), None if norm == "default" else norm)
    if visible is None:
        per_image = err.mean(-1)
    else:
        v = np.asarray(visible, bool)
        per_image = (err * v).sum(-1) / np.maximum(v.sum(-1), 1)
    return per_image / np.maximum(d, 1e-9)


def ced(errors: np.ndarray, threshold: float, steps: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative error distribution: x in [0, threshold], y = share of images with error <= x."""
    x = np.linspace(0, threshold, steps + 1)
    e = np.sort(np.asarray(errors, np.float64))
    y = np.searchsorted(e, x, side="right") / max(len(e), 1)
    return x, y


def failure_rate(errors: np.ndarray, threshold: float) -> float:
    return float((np.asarray(errors) > threshold).mean())


def auc(errors: np.ndarray, threshold: float, steps: int = 1000) -> float:
    x, y = ced(errors, threshold, steps)
    return float(np.trapezoid(y, x) / threshold)


def summarize(pred: np.ndarray, gt: np.ndarray, scheme: Scheme, norm: str = "default",
              visible: np.ndarray | None = None, thresholds: tuple[float, ...] = (0.08, 0.10),
              pixel_threshold: float = 5.0) -> dict:
    """All the numbers a report needs. NME, FR and AUC in percent; pixel errors in pixels of the images."""
    per_image = nme(pred, gt, scheme, norm, visible)
    err = point_errors(pred, gt)
    if visible is not None:
        err = np.where(np.asarray(visible, bool), err, np.nan)
    out = {
        "n": int(len(per_image)),
        "nme": float(per_image.mean() * 100),
        "nme_median": float(np.median(per_image) * 100),
        "norm": norm,
        "mean_error_px": float(np.nanmean(err)),
        "std_error_px": float(np.nanstd(err)),
        # over the visible points only: a hidden point (err NaN) is neither a success nor a failure
        f"success@{pixel_threshold:g}px": float(np.nanmean(np.where(np.isnan(err), np.nan, err <= pixel_threshold))
                                                * 100),
    }
    for t in thresholds:
        out[f"fr@{t:.2f}"] = failure_rate(per_image, t) * 100
        out[f"auc@{t:.2f}"] = auc(per_image, t) * 100
    d = scheme.norm_distance(np.asarray(gt), None if norm == "default" else norm)
    per_point = np.nanmean(err / d[:, None], 0) * 100
    out["per_point_nme"] = [round(float(v), 4) for v in per_point]
    # mean signed error per axis (x, y), in % of the normalising distance: a label-convention bias shows here
    signed = (np.asarray(pred, np.float64) - np.asarray(gt, np.float64)) / d[:, None, None]
    if visible is not None:
        signed = np.where(np.asarray(visible, bool)[..., None], signed, np.nan)
    out["mean_signed_error"] = [round(float(v) * 100, 4) for v in np.nanmean(signed.reshape(-1, 2), 0)]
    regions = scheme.regions
    if regions:  # mean NME of each face region's points (jaw, brows, nose, eyes, mouth)
        out["region_nme"] = {r: float(np.mean(per_point[list(idx)])) for r, idx in regions.items()}
    jaw = no_jaw_points(scheme)
    if jaw is not None:  # the inner points only (51 of 68): the jaw's label convention varies most
        out["nme_no_jaw"] = float(np.mean(per_point[jaw]))
    return out


def no_jaw_points(scheme: Scheme) -> np.ndarray | None:
    """Indices of the points outside the scheme's jaw/contour group, or None if it has none."""
    outline = set(scheme.groups.get("jaw", ())) | set(scheme.groups.get("contour", ()))
    if not outline:
        return None
    return np.array([i for i in range(scheme.num_points) if i not in outline])
