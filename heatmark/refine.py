"""Refinement passes: after a first landmark pass, each face is cropped again around its landmarks, as the models'
training crops are cut (the landmarks' bounding box × ``box_scale``), so the face box a detector gave matters less.
``Landmarker(refine=N)`` makes N such passes; measured on AFW in docs/results/refine.
"""

from __future__ import annotations

import numpy as np

from heatmark.data.crops import SquareBox, box_from_landmarks
from heatmark.errors import HeatmarkError

# Refinement passes when none are asked for, by detector; chosen by measurement on AFW (docs/results/refine): one
# pass helps every shipped model with dlib's and OpenCV's boxes (0.2-0.45 points), and helps `default` but hurts
# `fast` and `synthetic` with MTCNN's (where flip TTA, at the same cost, does better). Your own boxes: 0.
REFINE_DEFAULTS = {"dlib": 1, "opencv": 1}
# Refinement crops are axis-aligned, as the ground-truth crops the models train on; a face rolled further than
# training rotates (25°) keeps its roll. With MTCNN's rolls kept instead, AFW scored 0.03 worse for `default` and
# 0.02-0.04 better for `fast` and `synthetic` (docs/results/refine): only dlib and OpenCV refine by default, and
# they give no roll.
REFINE_KEEP_ROLL_DEG = 25.0


def refine_passes(refine: int | None, detector=None) -> int:
    """The number of refinement passes to make: ``refine`` checked (a whole number, 0 to 5), or for None the
    measured default for ``detector`` (a name; anything else: 0)."""
    if refine is None:
        return REFINE_DEFAULTS.get(detector, 0) if isinstance(detector, str) else 0
    if isinstance(refine, bool) or not isinstance(refine, (int, np.integer)) or not 0 <= refine <= 5:
        raise HeatmarkError(f"refine must be a whole number of extra passes from 0 to 5, got {refine!r}")
    return int(refine)


def refinement_rolls(rolls: np.ndarray) -> np.ndarray:
    """(N,) the rolls of the refinement crops: 0 (axis-aligned, as training crops are) unless a face is rolled
    further than :data:`REFINE_KEEP_ROLL_DEG`, which then keeps its first-pass roll."""
    rolls = np.asarray(rolls, np.float64)
    return np.where(np.abs(rolls) > REFINE_KEEP_ROLL_DEG, rolls, 0.0)


def refinement_boxes(points: np.ndarray, rolls: np.ndarray, box_scale: float,
                     expand: tuple[float, float, float] | None = None) -> list[SquareBox]:
    """The next pass's crop of each face: the box of its (K, 2) points in image pixels, in the frame of its roll."""
    return [box_from_landmarks(p, box_scale, expand=expand, rotation_deg=float(r)) for p, r in zip(points, rolls)]
