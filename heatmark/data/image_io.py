"""Reading images with clear errors. Every image enters heatmark as RGB uint8 (H, W, 3)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from heatmark.errors import DataError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
_FIX = "replace or re-export the file, or pass --skip-bad to skip it"


def _looks_truncated(data: bytes) -> bool:
    """JPEG and PNG carry an end marker; OpenCV decodes truncated files silently without it."""
    if data[:3] == b"\xff\xd8\xff":  # JPEG: EOI marker near the end (some writers pad after it)
        return b"\xff\xd9" not in data[-64:]
    if data[:8] == b"\x89PNG\r\n\x1a\n":  # PNG: IEND chunk
        return b"IEND" not in data[-32:]
    return False


def to_rgb_uint8(img: np.ndarray, path: str | Path | None = None) -> np.ndarray:
    """Grayscale, BGR, BGRA and 16-bit/float images from OpenCV → RGB uint8."""
    if img.dtype == np.uint16:
        img = (img.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        img = np.clip(img * (255.0 if img.max() <= 1.0 else 1.0), 0, 255).round().astype(np.uint8)
    elif img.dtype != np.uint8:
        raise DataError(path, f"unsupported image sample type {img.dtype}", _FIX)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.ndim == 3 and img.shape[2] == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB)
    if img.ndim == 3 and img.shape[2] == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img.ndim == 3 and img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    raise DataError(path, f"unsupported image shape {img.shape}", _FIX)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), or raise :class:`DataError` naming the file."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "image file not found", "check the path or the dataset root")
    if path.is_dir():
        raise DataError(path, "is a folder, not an image file")
    data = path.read_bytes()
    if len(data) == 0:
        raise DataError(path, "image file is empty (0 bytes)", _FIX)
    if _looks_truncated(data):
        raise DataError(path, "image file is truncated (no end marker)", _FIX)
    buf = np.frombuffer(data, dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        raise DataError(path, "cannot decode: not an image, or a format OpenCV cannot read", _FIX)
    return to_rgb_uint8(img, path)


def read_mask(path: str | Path) -> np.ndarray:
    """Read a single-channel label image (e.g. FaceSynthetics ``_seg.png``) as uint8 (H, W)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "segmentation mask not found")
    m = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if m is None:
        raise DataError(path, "cannot decode segmentation mask", _FIX)
    if m.ndim == 3:
        m = m[:, :, 0]
    return m.astype(np.uint8)


def write_image(path: str | Path, rgb: np.ndarray) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok = cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise DataError(path, "could not write image (unknown extension or unwritable folder)")
