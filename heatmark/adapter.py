"""Label adapters: map a model's landmarks from the convention it learned to a dataset's annotation convention.

A model trained on FaceSynthetics places the jaw where the 3D jaw projects and the other points as the
synthetic generator labels them; 300W annotators label differently (visible outline, their own eye and brow
habits). As in the FaceSynthetics paper (Wood et al., 2021), a small model learned from *real labels* maps one
to the other. Here it is linear and shape-conditioned, in a face-normalised frame:

1. each predicted shape is brought to a canonical frame by the similarity transform that puts its outer eye
   corners' midpoint at the origin, the eye line horizontal and the eye distance 1;
2. the correction (annotation − prediction, in that frame) is a ridge regression on the predicted canonical
   shape (plus a constant): ``correction = [shape, 1] @ W``;
3. the corrected shape is mapped back to image pixels.

An adapter is fitted with real labels, so a model with an adapter is no longer "synthetic-only": heatmark
always reports it apart. Fitting lives in ``heatmark.engine.adapt``; applying needs NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heatmark.errors import DataError

FORMAT = "heatmark-adapter-1"


def canonical_frames(points: np.ndarray, left: int = 36, right: int = 45) -> tuple[np.ndarray, np.ndarray]:
    """For shapes (N, K, 2): 2×2 matrices A (N, 2, 2) and origins o (N, 2) with canonical = (p − o) @ A.T:
    eye-corner midpoint at 0, eye line along +x, eye distance 1."""
    p = np.asarray(points, np.float64)
    o = (p[:, left] + p[:, right]) / 2
    d = p[:, right] - p[:, left]
    s = np.maximum(np.linalg.norm(d, axis=1), 1e-9)
    c, si = d[:, 0] / s, d[:, 1] / s
    a = np.stack([np.stack([c, si], 1), np.stack([-si, c], 1)], 1) / s[:, None, None]  # rotate by -angle, scale 1/s
    return a, o


def to_canonical(points: np.ndarray, a: np.ndarray, o: np.ndarray) -> np.ndarray:
    return np.einsum("nij,nkj->nki", a, np.asarray(points, np.float64) - o[:, None, :])


def from_canonical(points: np.ndarray, a: np.ndarray, o: np.ndarray) -> np.ndarray:
    return np.einsum("nij,nkj->nki", np.linalg.inv(a), points) + o[:, None, :]


@dataclass
class LabelAdapter:
    """A fitted label adapter; call it on predicted shapes to get them in the annotation convention it was fitted
    on.

    Attributes:
        weights: (K·2 + 1, K·2) ridge-regression weights of the canonical-frame correction.
        num_points: K, the points per shape it maps.
        info: what it was fitted on (dataset, faces, ridge, the model), stored in the file.

    Examples:
        >>> adapter = LabelAdapter.load("synthetic.300w-adapter.npz")
        >>> fixed = adapter(pred)        # (N, 68, 2) or (68, 2) image pixels in, the same shape out
    """

    weights: np.ndarray
    num_points: int
    info: dict

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Adapted landmarks for shapes (N, K, 2) or one shape (K, 2), in the same pixels.

        Raises:
            ValueError: shapes with another number of points than the adapter maps.
        """
        pts = np.asarray(points, np.float64)
        single = pts.ndim == 2
        pts = pts[None] if single else pts
        if pts.shape[1:] != (self.num_points, 2):
            raise ValueError(f"this adapter maps {self.num_points} points, got shapes {pts.shape[1:]}")
        if len(pts) == 0:
            return pts[0] if single else pts
        a, o = canonical_frames(pts)
        x = to_canonical(pts, a, o).reshape(len(pts), -1)
        fixed = x + np.hstack([x, np.ones((len(x), 1))]) @ self.weights
        out = from_canonical(fixed.reshape(len(pts), self.num_points, 2), a, o)
        return out[0] if single else out

    @classmethod
    def fit(cls, pred: np.ndarray, gt: np.ndarray, ridge: float = 1.0, info: dict | None = None) -> LabelAdapter:
        """Fit an adapter by least squares with an L2 penalty (not on the constant term).

        Args:
            pred: (N, K, 2) a model's predictions, image pixels.
            gt: (N, K, 2) the annotations of the same faces.
            ridge: the L2 penalty.
            info: what the fit used, kept in the file.

        Returns:
            The fitted adapter.

        Raises:
            ValueError: ``pred`` and ``gt`` differ in shape or are not (N, K, 2).

        Examples:
            >>> adapter = LabelAdapter.fit(pred, gt, ridge=1.0, info={"dataset": "300w"})
        """
        pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
        if pred.shape != gt.shape or pred.ndim != 3:
            raise ValueError(f"pred and gt must be (N, K, 2) of one shape, got {pred.shape} and {gt.shape}")
        a, o = canonical_frames(pred)
        x = to_canonical(pred, a, o).reshape(len(pred), -1)
        y = to_canonical(gt, a, o).reshape(len(pred), -1) - x
        xb = np.hstack([x, np.ones((len(x), 1))])
        reg = ridge * np.eye(xb.shape[1])
        reg[-1, -1] = 0.0
        w = np.linalg.solve(xb.T @ xb + reg, xb.T @ y)
        return cls(w, pred.shape[1], {"n": int(len(pred)), "ridge": float(ridge), **(info or {})})

    def save(self, path: str | Path) -> None:
        """Write the adapter to ``path`` as ``.npz`` (a temporary file renamed into place: never half a file).

        Examples:
            >>> adapter.save("mine.300w-adapter.npz")
        """
        import json

        from heatmark.atomic import atomic_path

        with atomic_path(Path(path)) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, weights=self.weights.astype(np.float32), num_points=self.num_points,
                         info=np.array(json.dumps({"format": FORMAT, **self.info})))

    @classmethod
    def load(cls, path: str | Path) -> LabelAdapter:
        """Read the adapter at ``path``, written by :meth:`save` or ``heatmark adapt``.

        Raises:
            DataError: a missing file, or one that is no heatmark adapter (named in the message).

        Examples:
            >>> adapter = LabelAdapter.load("mine.300w-adapter.npz")
        """
        import json

        path = Path(path)
        if not path.is_file():
            raise DataError(path, "label adapter file not found")
        try:
            with np.load(path, allow_pickle=False) as z:
                info = json.loads(str(z["info"]))
                if info.get("format") != FORMAT:
                    raise ValueError(f"format {info.get('format')!r}")
                return cls(z["weights"].astype(np.float64), int(z["num_points"]), info)
        except (OSError, ValueError, KeyError) as e:
            raise DataError(path, f"not a heatmark label adapter ({e})", "fit one with heatmark adapt") from None
