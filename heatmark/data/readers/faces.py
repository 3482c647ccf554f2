"""300W/iBUG ``.pts`` folders and FaceSynthetics folders."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from heatmark.data.image_io import IMAGE_EXTS
from heatmark.data.readers.common import PTS_OFFSET, _collect, _find_image, _nonempty, _require_dir, scheme_for_count
from heatmark.data.records import LandmarkRecord, Records
from heatmark.data.schemes import Scheme, get_scheme
from heatmark.errors import DataError


# ------------------------------------------------------------------ .pts
def read_pts(path: str | Path, num_points: int | None = None, offset: float = PTS_OFFSET) -> np.ndarray:
    """Read a 300W/iBUG ``.pts`` file (with or without the ``version/n_points/{ }`` header).

    Returns float32 (K, 2) in heatmark's convention (``offset`` is added; -0.5 for 1-based
    pixel-centre files). Raises :class:`DataError` naming the file and line on any problem.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "annotation file not found")
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except UnicodeDecodeError:
        raise DataError(path, "not a text .pts file", "check that this is a landmark file") from None
    declared = None
    rows: list[tuple[float, float]] = []
    in_body = not any(ln.strip() == "{" for ln in lines)
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        low = line.lower()
        if low.startswith("version"):
            continue
        if low.startswith("n_points"):
            try:
                declared = int(line.split(":", 1)[1])
            except (IndexError, ValueError):
                raise DataError(path, f"line {lineno}: bad n_points header {line!r}") from None
            continue
        if line == "{":
            in_body = True
            continue
        if line == "}":
            in_body = False
            continue
        if not in_body:
            raise DataError(path, f"line {lineno}: unexpected text {line!r} outside the point block")
        parts = line.replace(",", " ").split()
        if len(parts) != 2:
            raise DataError(path, f"line {lineno}: expected 'x y', got {line!r}", "fix the annotation")
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise DataError(path, f"line {lineno}: non-numeric coordinate {line!r}", "fix the annotation") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise DataError(path, f"line {lineno}: NaN or Inf coordinate {line!r}", "fix the annotation")
        rows.append((x, y))
    if not rows:
        raise DataError(path, "no points in file", "is this a .pts annotation?")
    if declared is not None and declared != len(rows):
        raise DataError(path, f"header says n_points: {declared} but the file has {len(rows)} points")
    if num_points is not None and len(rows) != num_points:
        raise DataError(path, f"expected {num_points} points, found {len(rows)}", "check the landmark scheme")
    return np.asarray(rows, dtype=np.float32) + np.float32(offset)


def write_pts(path: str | Path, points: np.ndarray, offset: float = PTS_OFFSET) -> None:
    """Write (K, 2) points in heatmark's convention as a 300W/iBUG ``.pts`` file (1-based pixel centres for the
    default ``offset``), so that :func:`read_pts` with the same ``offset`` reads them back."""
    pts = np.asarray(points, dtype=np.float64) - offset
    if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
        raise ValueError(f"write_pts: expected finite (K, 2) points for {path}, got shape {pts.shape}")
    body = "\n".join(f"{x:.4f} {y:.4f}" for x, y in pts)
    Path(path).write_text(f"version: 1\nn_points: {len(pts)}\n{{\n{body}\n}}\n", encoding="utf-8")


def read_pts_folder(
    root: str | Path,
    scheme: str | Scheme | None = None,
    recursive: bool = True,
    skip_bad: bool = False,
    offset: float = PTS_OFFSET,
) -> Records:
    """Images with a ``.pts`` file of the same stem (300W, menpo, LFPW, your own data).

    ``scheme`` None infers it from the first file's point count (68 → ibug68, ...).
    An image without a ``.pts`` is ignored only if the folder has no ``.pts`` beside it;
    a ``.pts`` without an image is an error.
    """
    root = _require_dir(root, "dataset")
    pts_files = sorted(root.rglob("*.pts") if recursive else root.glob("*.pts"))
    if scheme is not None:
        scheme = get_scheme(scheme)

    def build(pts: Path) -> LandmarkRecord:
        nonlocal scheme
        img = _find_image(pts)
        if img is None:
            raise DataError(pts, "annotation has no image beside it (.jpg/.png/...)",
                            "add the image or remove the annotation")
        pts_arr = read_pts(pts, None if scheme is None else scheme.num_points, offset)
        if scheme is None:
            scheme = scheme_for_count(len(pts_arr))
        return LandmarkRecord(image_path=img, landmarks=pts_arr, scheme=scheme, annotation_path=pts)

    records = _collect(pts_files, build, skip_bad)
    annotated = {r.image_path.with_suffix("") for r in records}
    for p in sorted(root.rglob("*") if recursive else root.glob("*")):
        if p.suffix.lower() in IMAGE_EXTS and p.with_suffix("") not in annotated and not p.stem.endswith("_seg"):
            if p.with_suffix(".pts").exists():
                continue  # its .pts was bad and already reported
            err = DataError(p, "image has no .pts annotation beside it", "add NAME.pts or move the image out")
            if not skip_bad:
                raise err
            records.skipped.append(err)
    return _nonempty(records, root, ".pts annotations")


# ------------------------------------------------------------------ FaceSynthetics
def read_ldmks_txt(path: Path, num_points: int = 70) -> np.ndarray:
    """A FaceSynthetics ``NNNNNN_ldmks.txt``: ``num_points`` rows of ``x y`` (already continuous)."""
    if not path.is_file():
        raise DataError(path, "landmark file not found")
    rows = []
    for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            x, y = float(parts[0]), float(parts[1])
        except (ValueError, IndexError):
            raise DataError(path, f"line {lineno}: expected 'x y', got {line.strip()!r}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise DataError(path, f"line {lineno}: NaN or Inf coordinate")
        rows.append((x, y))
    if len(rows) != num_points:
        raise DataError(path, f"expected {num_points} points, found {len(rows)}")
    return np.asarray(rows, dtype=np.float32)


def read_facesynthetics(root: str | Path, skip_bad: bool = False) -> Records:
    """A FaceSynthetics folder: ``NNNNNN.png`` + ``NNNNNN_ldmks.txt`` (+ optional ``_seg.png``)."""
    root = _require_dir(root, "FaceSynthetics")
    scheme = get_scheme("facesynthetics70")
    images = sorted(p for p in root.glob("*.png") if not p.stem.endswith("_seg"))

    def build(img: Path) -> LandmarkRecord:
        ldmks = img.with_name(f"{img.stem}_ldmks.txt")
        if not ldmks.is_file():
            raise DataError(img, f"image has no landmark file {ldmks.name}",
                            "FaceSynthetics needs NNNNNN_ldmks.txt beside each NNNNNN.png")
        seg = img.with_name(f"{img.stem}_seg.png")
        return LandmarkRecord(image_path=img, landmarks=read_ldmks_txt(ldmks, 70), scheme=scheme,
                              seg_path=seg if seg.is_file() else None, annotation_path=ldmks)

    records = _collect(images, build, skip_bad)
    for ldmks in sorted(root.glob("*_ldmks.txt")):
        img = ldmks.with_name(ldmks.name.replace("_ldmks.txt", ".png"))
        if not img.is_file():
            err = DataError(ldmks, f"landmark file has no image {img.name}", "add the image or remove the file")
            if not skip_bad:
                raise err
            records.skipped.append(err)
    return _nonempty(records, root, "FaceSynthetics samples (NNNNNN.png + NNNNNN_ldmks.txt)")


