"""The one record type every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from heatmark.data.schemes import Scheme
from heatmark.errors import DataError


@dataclass
class LandmarkRecord:
    """One annotated face.

    ``landmarks`` are float32 (K, 2) in heatmark's single convention: 0-based continuous pixel
    coordinates with the origin at the top-left *corner* of the top-left pixel (so the centre of
    pixel (0, 0) is (0.5, 0.5)). Readers convert each format to this on load.
    """

    image_path: Path
    landmarks: np.ndarray
    scheme: Scheme
    visible: np.ndarray | None = None  # (K,) bool; None = all visible
    box: np.ndarray | None = None  # (4,) x1, y1, x2, y2 face box, if the format has one
    seg_path: Path | None = None  # FaceSynthetics segmentation (class 0 = background)
    annotation_path: Path | None = None
    image_array: np.ndarray | None = field(default=None, repr=False)  # images embedded in the file (COFW .mat)

    def __post_init__(self) -> None:
        self.landmarks = np.asarray(self.landmarks, dtype=np.float32)
        src = self.annotation_path or self.image_path
        if self.landmarks.shape != (self.scheme.num_points, 2):
            raise DataError(
                src,
                f"expected {self.scheme.num_points} points of scheme {self.scheme.name}, "
                f"got array of shape {self.landmarks.shape}",
            )
        if not np.isfinite(self.landmarks).all():
            raise DataError(src, "landmarks contain NaN or Inf", "fix the annotation or pass --skip-bad")
        if self.visible is not None:
            self.visible = np.asarray(self.visible, dtype=bool).reshape(self.scheme.num_points)

    @property
    def name(self) -> str:
        return self.image_path.stem

    def load_image(self) -> np.ndarray:
        from heatmark.data.image_io import read_image

        if self.image_array is not None:
            return self.image_array
        return read_image(self.image_path)


class Records(list):
    """A list of :class:`LandmarkRecord` plus the problems skipped while reading (``skip_bad``)."""

    def __init__(self, items=(), skipped: list[DataError] | None = None):
        super().__init__(items)
        self.skipped: list[DataError] = list(skipped or [])


def convert_record(record: LandmarkRecord, scheme: Scheme) -> LandmarkRecord:
    """``record`` with its landmarks (and visibility) converted to ``scheme`` (e.g. 68 → 5 points)."""
    import dataclasses

    from heatmark.data.schemes import convert_points

    vis = None if record.visible is None else convert_points(np.asarray(record.visible, bool)[:, None], record.scheme,
                                                              scheme)[:, 0]
    return dataclasses.replace(record, landmarks=convert_points(record.landmarks, record.scheme, scheme),
                               scheme=scheme, visible=vis)
