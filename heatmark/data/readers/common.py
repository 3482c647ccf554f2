"""What every reader shares: the coordinate offsets, collecting records with skip_bad, path helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from heatmark.data.image_io import IMAGE_EXTS
from heatmark.data.records import Records
from heatmark.data.schemes import BUILTIN, Scheme
from heatmark.errors import DataError

PTS_OFFSET = -0.5  # 1-based pixel centres → continuous
INDEX_OFFSET = 0.5  # 0-based pixel centres → continuous
DATASETS = ("facesynthetics", "300w", "wflw", "cofw", "folder", "dlib", "coco", "cuhk", "mtfl")


# ------------------------------------------------------------------ helpers
def _collect(items: Iterable, build: Callable, skip_bad: bool) -> Records:
    out = Records()
    for item in items:
        try:
            out.append(build(item))
        except DataError as e:
            if not skip_bad:
                raise
            out.skipped.append(e)
    return out


def _require_dir(root: Path, what: str) -> Path:
    root = Path(root)
    if not root.exists():
        raise DataError(root, f"{what} folder not found", "check --root")
    if not root.is_dir():
        raise DataError(root, f"expected a {what} folder, found a file")
    return root


def _nonempty(records: Records, root: Path, what: str) -> Records:
    if not records and not records.skipped:
        raise DataError(root, f"no {what} found", "check --root and --dataset")
    if not records:
        raise DataError(root, f"every sample is bad; first problem: {records.skipped[0]}")
    return records


def scheme_for_count(k: int) -> Scheme:
    """The built-in scheme with k points, or a generic one (no flip pairs, no normalisation)."""
    for s in BUILTIN.values():
        if s.num_points == k:
            return s
    return Scheme(name=f"points{k}", num_points=k, names=tuple(f"p{i}" for i in range(k)))


def _resolve_file(path: str | Path, patterns: tuple[str, ...], what: str) -> Path:
    """``--root`` may name the annotation file or its folder: in a folder, the first file matching the
    first pattern that matches anything."""
    path = Path(path)
    if path.is_dir():
        for pattern in patterns:
            found = sorted(path.glob(pattern))
            if found:
                return found[0]
        raise DataError(path, f"no {what} file in this folder", f"pass the {what} file as --root")
    if not path.is_file():
        raise DataError(path, f"{what} file not found")
    return path


def _find_image(stem_path: Path) -> Path | None:
    for ext in IMAGE_EXTS:
        for cand in (stem_path.with_suffix(ext), stem_path.with_suffix(ext.upper())):
            if cand.is_file():
                return cand
    return None


