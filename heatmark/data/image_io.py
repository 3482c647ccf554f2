"""Reading images with clear errors. Every image enters heatmark as RGB uint8 (H, W, 3)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from heatmark.errors import DataError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
_FIX = "replace or re-export the file, or pass --skip-bad to skip it"


MAX_PIXELS = 2**30  # larger images are refused before decoding (decompression bombs)


def _looks_truncated(data: bytes) -> bool:
    """JPEG and PNG carry an end marker; OpenCV decodes truncated files silently without it."""
    if data[:3] == b"\xff\xd8\xff":  # JPEG: an EOI after the last scan's start; bytes after the EOI are fine
        sos = data.rfind(b"\xff\xda")  # FF DA cannot occur inside entropy-coded data (FF is stuffed there)
        return sos < 0 or data.find(b"\xff\xd9", sos) < 0
    if data[:8] == b"\x89PNG\r\n\x1a\n":  # PNG: IEND chunk
        return b"IEND" not in data[-64:]
    return False


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header without decoding, or None for other formats."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                i += 1 if marker == 0xFF else 2
                continue
            length = int.from_bytes(data[i + 2:i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
                return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
            i += 2 + length
    return None


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation tag (1-8) of a JPEG, 1 when absent or unreadable."""
    if data[:2] != b"\xff\xd8":
        return 1
    i = 2
    while i + 4 < len(data) and data[i] == 0xFF:
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xE1 and data[i + 4:i + 10] == b"Exif\x00\x00":
            tiff = data[i + 10:i + 2 + length]
            order = "little" if tiff[:2] == b"II" else "big"
            try:
                ifd = int.from_bytes(tiff[4:8], order)
                for k in range(int.from_bytes(tiff[ifd:ifd + 2], order)):
                    e = ifd + 2 + 12 * k
                    if int.from_bytes(tiff[e:e + 2], order) == 0x0112:
                        v = int.from_bytes(tiff[e + 8:e + 10], order)
                        return v if 1 <= v <= 8 else 1
            except (IndexError, ValueError):
                return 1
            return 1
        if marker == 0xDA:
            break
        i += 2 + length
    return 1


def apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/mirror stored pixels as EXIF orientation ``orientation`` says they are displayed."""
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: np.swapaxes(a, 0, 1), 6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a, 1)[::-1],
           8: lambda a: np.rot90(a, 1)}
    return np.ascontiguousarray(ops[orientation](img)) if orientation in ops else img


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


def read_image(path: str | Path, orient: bool = False) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), or raise :class:`DataError` naming the file. ``orient``:
    apply the EXIF orientation (photos); annotated data sets keep their stored pixels, as their labels do."""
    return read_image_info(path, orient)[0]


def read_image_info(path: str | Path, orient: bool = True) -> tuple[np.ndarray, dict]:
    """:func:`read_image` and what was done: ``{"exif_orientation": n, "orientation_applied": bool}``."""
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
    size = image_size(data)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise DataError(path, f"image is {size[0]}x{size[1]} = {size[0] * size[1]:,} pixels, over heatmark's limit "
                        f"of {MAX_PIXELS:,} (a decompression bomb, or a scan too large to hold in memory)", _FIX)
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error as e:
        raise DataError(path, f"cannot decode ({str(e).strip().splitlines()[-1][:120]})", _FIX) from None
    if img is None:
        raise DataError(path, "cannot decode: not an image, or a format OpenCV cannot read", _FIX)
    img = to_rgb_uint8(img, path)
    n = exif_orientation(data)
    if orient and n != 1:
        img = apply_orientation(img, n)
    return img, {"exif_orientation": n, "orientation_applied": bool(orient and n != 1)}


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
