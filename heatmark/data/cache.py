"""Cached face crops: decode each photo once, keep a context crop as a uint8 memmap.

A cache holds, for N records, crops of ``size``² pixels around each face (a square of ``context`` ×
the landmark box, wider than the model input so augmentation can rotate, zoom and shift without
black borders), the segmentation crop when the record has one, the landmarks in crop coordinates
and the matrix image→crop. Its folder name carries a key hashed from the cache format version,
the crop settings, every source file's path, size and modification time, and the landmarks
themselves: change any of them and a new cache is built; an unchanged dataset reuses the old one.
Building writes to a temporary folder renamed into place, so an interrupted build leaves nothing
half-written behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from heatmark.data.crops import box_from_landmarks, crop_matrix, transform_points, warp
from heatmark.data.image_io import read_mask
from heatmark.data.records import LandmarkRecord
from heatmark.errors import DataError

CACHE_VERSION = 2  # 2: crops shrink with block means (INTER_AREA) instead of a Gaussian pre-blur


def default_cache_dir() -> Path:
    return Path(os.environ.get("HEATMARK_CACHE", Path.home() / ".cache" / "heatmark")) / "crops"


def _stat(p: Path | None) -> list:
    if p is None:
        return [None]
    try:
        st = p.stat()
    except FileNotFoundError:
        return [str(p), None]
    return [str(p.resolve()), st.st_size, st.st_mtime_ns]


def check_landmarks_in_image(r: LandmarkRecord, shape: tuple[int, ...]) -> None:
    """An annotation whose landmark box lies mostly outside its image belongs to another image or is
    corrupt: raise naming it (points slightly outside, e.g. a cut-off chin, are fine)."""
    h, w = shape[:2]
    lo, hi = r.landmarks.min(0), r.landmarks.max(0)
    c, size = (lo + hi) / 2, float(max(hi - lo))
    if not (0 <= c[0] <= w and 0 <= c[1] <= h) or size > 4 * max(h, w):
        raise DataError(r.annotation_path or r.image_path,
                        f"landmarks (box {lo.round(1).tolist()}-{hi.round(1).tolist()}) lie far outside the "
                        f"{w}x{h} image {r.image_path.name}", "check that the annotation belongs to this image")


def cache_key(records: list[LandmarkRecord], size: int, context: float) -> str:
    h = hashlib.sha1()
    h.update(json.dumps({"v": CACHE_VERSION, "size": size, "context": context}).encode())
    for r in records:
        h.update(json.dumps([_stat(r.image_path if r.image_array is None else None), _stat(r.seg_path),
                             r.scheme.name]).encode())
        if r.image_array is not None:
            h.update(r.image_array.tobytes())
        h.update(r.landmarks.tobytes())
        h.update(b"" if r.visible is None else r.visible.tobytes())
    return h.hexdigest()


class CropCache:
    """Context crops of a list of records, on disk (memmap) or in memory.

    Attributes: ``images`` (N, S, S, 3) uint8, ``masks`` (N, S, S) uint8 or None, ``landmarks``
    (N, K, 2) float32 in crop pixels, ``visible`` (N, K) bool, ``matrices`` (N, 3, 3) image→crop,
    ``names`` (N,) and ``scheme``.
    """

    def __init__(self, records: list[LandmarkRecord], size: int = 192, context: float = 1.8,
                 cache_dir: str | Path | None = None, tag: str = "data", workers: int = 2, skip_bad: bool = False):
        if not records:
            raise DataError(None, "cannot cache an empty dataset")
        # Images are decoded here for the first time, so unreadable ones surface here: stop at the first
        # (naming it), or with skip_bad drop them, list them in self.skipped and cache the rest.
        self.skipped: list[DataError] = []
        if skip_bad:
            records = self._readable(records, workers)
        schemes = {r.scheme.name for r in records}
        if len(schemes) != 1:
            raise DataError(None, f"one cache holds one landmark scheme, got {sorted(schemes)}")
        self.scheme = records[0].scheme
        self.size, self.context = int(size), float(context)
        self.records = records
        self.names = np.array([r.name for r in records])
        self.key = cache_key(records, self.size, self.context)
        self.path: Path | None = None
        self.reused = False
        if cache_dir is None:
            self._fill(self._allocate(None), workers)
        else:
            root = Path(cache_dir)
            safe_tag = "".join(c if c.isalnum() or c in "-_" else "_" for c in tag)[:40]
            self.path = root / f"{safe_tag}-{self.key[:16]}"
            if (self.path / "complete").is_file():
                self.reused = True
            else:
                self._build_on_disk(root, workers)
            self._open(self.path)

    def _readable(self, records: list[LandmarkRecord], workers: int) -> list[LandmarkRecord]:
        def check(r: LandmarkRecord):
            try:
                check_landmarks_in_image(r, r.load_image().shape)
                return None
            except DataError as e:
                return e

        with ThreadPoolExecutor(max(1, workers)) as ex:
            errors = list(ex.map(check, records))
        self.skipped = [e for e in errors if e is not None]
        good = [r for r, e in zip(records, errors) if e is None]
        if not good:
            raise DataError(None, f"every sample is bad; first problem: {self.skipped[0]}")
        return good

    # -------------------------------------------------------------- building
    def _allocate(self, folder: Path | None) -> dict:
        n, s, k = len(self.records), self.size, self.scheme.num_points
        has_mask = any(r.seg_path is not None for r in self.records)
        if folder is None:
            images = np.zeros((n, s, s, 3), np.uint8)
            masks = np.zeros((n, s, s), np.uint8) if has_mask else None
        else:
            images = np.lib.format.open_memmap(folder / "images.npy", "w+", np.uint8, (n, s, s, 3))
            masks = np.lib.format.open_memmap(folder / "masks.npy", "w+", np.uint8, (n, s, s)) if has_mask else None
        arrays = {"images": images, "masks": masks, "landmarks": np.zeros((n, k, 2), np.float32),
                  "visible": np.ones((n, k), bool), "matrices": np.zeros((n, 3, 3), np.float64)}
        for name, arr in arrays.items():
            setattr(self, name, arr)
        return arrays

    def _crop_one(self, i: int) -> None:
        r = self.records[i]
        img = r.load_image()
        check_landmarks_in_image(r, img.shape)
        m = crop_matrix(box_from_landmarks(r.landmarks, self.context, r.visible, r.scheme.box_expand), self.size)
        self.images[i] = warp(img, m, self.size)
        if self.masks is not None and r.seg_path is not None:
            self.masks[i] = warp(read_mask(r.seg_path), m, self.size, interpolation=cv2.INTER_NEAREST)
        self.landmarks[i] = transform_points(m, r.landmarks)
        self.matrices[i] = m
        if r.visible is not None:
            self.visible[i] = r.visible

    def _fill(self, arrays: dict, workers: int) -> None:
        if workers > 1:
            with ThreadPoolExecutor(workers) as ex:  # OpenCV decoding releases the GIL
                list(ex.map(self._crop_one, range(len(self.records))))
        else:
            for i in range(len(self.records)):
                self._crop_one(i)

    def _build_on_disk(self, root: Path, workers: int) -> None:
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{self.path.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            arrays = self._allocate(tmp)
            self._fill(arrays, workers)
            for name in ("images", "masks"):
                if arrays[name] is not None:
                    arrays[name].flush()
            np.savez(tmp / "meta.npz", landmarks=self.landmarks, visible=self.visible, matrices=self.matrices,
                     names=self.names)
            (tmp / "info.json").write_text(json.dumps({
                "version": CACHE_VERSION, "size": self.size, "context": self.context, "n": len(self.records),
                "scheme": self.scheme.name, "key": self.key,
                "sources": [str(r.annotation_path or r.image_path) for r in self.records[:3]] + ["..."],
            }, indent=1))
            (tmp / "complete").write_text("ok\n")
            # drop stale caches of the same tag, then move the new one into place
            for old in root.glob(self.path.name.rsplit("-", 1)[0] + "-*"):
                if old.is_dir() and old.name != self.path.name and not old.name.startswith("."):
                    shutil.rmtree(old, ignore_errors=True)
            if (self.path / "complete").is_file():
                return  # another process finished the same cache first: keep its copy
            if self.path.exists():
                shutil.rmtree(self.path)
            try:
                os.replace(tmp, self.path)
            except OSError:
                if not (self.path / "complete").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _open(self, folder: Path) -> None:
        self.images = np.load(folder / "images.npy", mmap_mode="r")
        self.masks = np.load(folder / "masks.npy", mmap_mode="r") if (folder / "masks.npy").exists() else None
        meta = np.load(folder / "meta.npz")
        self.landmarks, self.visible, self.matrices = meta["landmarks"], meta["visible"], meta["matrices"]

    def __len__(self) -> int:
        return len(self.records)
