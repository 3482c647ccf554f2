"""Square face crops as explicit affine matrices.

All matrices are 3×3 and map heatmark's continuous coordinates (origin at the top-left corner of
the top-left pixel) in the source image to continuous coordinates in the crop. Points move with
:func:`transform_points`; predictions go back with :func:`invert`. :func:`warp` converts to
OpenCV's pixel-centre convention internally, so image and points stay aligned to the sub-pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class SquareBox:
    """A square region: centre (cx, cy) and side length, in continuous image coordinates."""

    cx: float
    cy: float
    size: float

    @property
    def xyxy(self) -> np.ndarray:
        h = self.size / 2
        return np.array([self.cx - h, self.cy - h, self.cx + h, self.cy + h], dtype=np.float32)


def box_from_landmarks(points: np.ndarray, scale: float = 1.25, visible: np.ndarray | None = None,
                       expand: tuple[float, float, float] | None = None, rotation_deg: float = 0.0) -> SquareBox:
    """Square box centred on the landmark bounding box, side = scale × its longer side. ``expand`` (a sparse
    scheme's ``box_expand``: ratio, dx, dy) first turns that box into the face box a 68-point one would be.
    ``rotation_deg``: the bounding box is taken in the frame of a crop turned by that angle (as
    :func:`crop_matrix` turns it), so a crop cut with the same angle sees the face as an upright crop sees an
    upright face."""
    pts = np.asarray(points, dtype=np.float64)
    if visible is not None and np.any(visible):
        pts = pts[np.asarray(visible, dtype=bool)]
    if rotation_deg:
        centre = pts.mean(0)
        m = crop_matrix(SquareBox(float(centre[0]), float(centre[1]), 1.0), 1, rotation_deg)  # rotation only
        local = box_from_landmarks(transform_points(m, pts), scale, expand=expand)
        cx, cy = transform_points(invert(m), np.array([[local.cx, local.cy]]))[0]
        return SquareBox(float(cx), float(cy), local.size)
    lo, hi = pts.min(0), pts.max(0)
    c = (lo + hi) / 2
    side = float(max(hi - lo))
    if expand is not None:
        ratio, dx, dy = expand
        c = c + np.array([dx, dy]) * side
        side *= ratio
    return SquareBox(float(c[0]), float(c[1]), max(side * scale, 1.0))


def box_from_detection(xyxy, scale: float = 1.0, shift_y: float = 0.0) -> SquareBox:
    """Square box from a detector's (x1, y1, x2, y2): side = scale × the longer side, centre moved
    down by ``shift_y`` × side (detectors' boxes sit higher on the face than landmark boxes)."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    size = max(x2 - x1, y2 - y1) * scale
    return SquareBox((x1 + x2) / 2, (y1 + y2) / 2 + shift_y * size, max(size, 1.0))


def jitter_box(box: SquareBox, rng: np.random.Generator, scale: float = 0.1, shift: float = 0.05) -> SquareBox:
    """Random scale (× in [1-scale, 1+scale]) and shift (± shift × size on each axis)."""
    s = box.size * rng.uniform(1 - scale, 1 + scale)
    dx, dy = rng.uniform(-shift, shift, 2) * box.size
    return SquareBox(box.cx + dx, box.cy + dy, s)


def crop_matrix(box: SquareBox, out_size: int, rotation_deg: float = 0.0, flip: bool = False) -> np.ndarray:
    """3×3 matrix mapping image coordinates to an ``out_size`` crop of ``box``.

    The crop is rotated by ``rotation_deg`` (counter-clockwise in the image) about the box centre and
    mirrored horizontally if ``flip``. After a flip, callers must also permute the landmark indices
    through the scheme's flip pairs (see ``heatmark.data.augment``).
    """
    s = out_size / box.size
    a = np.deg2rad(rotation_deg)
    c, si = np.cos(a) * s, np.sin(a) * s
    half = out_size / 2
    # translate box centre to origin, rotate+scale, move to crop centre
    m = np.array([[c, si, 0.0], [-si, c, 0.0], [0.0, 0.0, 1.0]])
    m[:2, 2] = half - m[:2, :2] @ np.array([box.cx, box.cy])
    if flip:
        m = np.array([[-1.0, 0.0, out_size], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ m
    return m


def around_centre(out_size: int, scale: float = 1.0, rotation_deg: float = 0.0, tx: float = 0.0,
                  ty: float = 0.0, flip: bool = False, in_size: int | None = None) -> np.ndarray:
    """Matrix from an ``in_size`` square image to an ``out_size`` one: zoom ``scale`` and rotate about
    the centre, then shift by (tx, ty) × out_size, then optionally mirror. Used for augmentation."""
    in_size = out_size if in_size is None else in_size
    box = SquareBox(in_size / 2 - tx * in_size / scale, in_size / 2 - ty * in_size / scale, in_size / scale)
    return crop_matrix(box, out_size, rotation_deg, flip)


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply 3×3 matrices to points. matrix (3,3) or (B,3,3); points (..., K, 2) / (B, K, 2)."""
    m = np.asarray(matrix)
    p = np.asarray(points)
    out = p @ np.swapaxes(m[..., :2, :2], -1, -2) + m[..., None, :2, 2]
    return out.astype(p.dtype if p.dtype in (np.float32, np.float64) else np.float64)


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (possibly batched) crop matrix: maps crop coordinates back to the image. Crop matrices are
    affine (last row 0 0 1), so the inverse is written out (a fifth of ``np.linalg.inv``'s time for one face)."""
    m = np.asarray(matrix, dtype=np.float64)
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    out = np.zeros_like(m)
    out[..., 0, 0], out[..., 0, 1], out[..., 1, 0], out[..., 1, 1] = d / det, -b / det, -c / det, a / det
    out[..., :2, 2] = -(out[..., :2, :2] @ m[..., :2, 2, None])[..., 0]
    out[..., 2, 2] = 1.0
    return out


def _to_cv(matrix: np.ndarray) -> np.ndarray:
    """Continuous-coordinate affine matrix → OpenCV's (pixel centres at integers) 2×3 matrix: the pixel-centre shift
    (+0.5) in, the matrix, the shift back (−0.5) out."""
    cv = np.array(matrix[:2], dtype=np.float64)
    cv[:, 2] += 0.5 * (cv[:, 0] + cv[:, 1]) - 0.5
    return cv


def warp(image: np.ndarray, matrix: np.ndarray, out_size: int | tuple[int, int],
         interpolation: int = cv2.INTER_LINEAR, border_value=0, out: np.ndarray | None = None) -> np.ndarray:
    """Warp ``image`` with a continuous-coordinate matrix to an ``out_size`` crop (written into ``out`` when given:
    a C-contiguous array of the crop's shape and the image's dtype, e.g. one face of a batch)."""
    w, h = (out_size, out_size) if isinstance(out_size, int) else out_size
    matrix = np.asarray(matrix, dtype=np.float64)
    # Shrinking a lot with bilinear sampling aliases and INTER_AREA is not available for warps: below half size,
    # the part of the photo the crop reads is first shrunk by a whole factor with INTER_AREA (block means)
    scale = np.sqrt(abs(matrix[0, 0] * matrix[1, 1] - matrix[0, 1] * matrix[1, 0]))
    if interpolation != cv2.INTER_NEAREST and scale < 0.5:
        image, matrix = _shrunk_source(image, matrix, w, h, int(1.0 / scale))
    return cv2.warpAffine(image, _to_cv(matrix), (w, h), dst=out, flags=interpolation,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border_value)


def warp_batch(image: np.ndarray, matrices: np.ndarray, out_size: int) -> np.ndarray:
    """(N, S, S, C) crops of one image, one per matrix (N, 3, 3), each warped straight into the batch array."""
    crops = np.empty((len(matrices), out_size, out_size, *image.shape[2:]), image.dtype)
    for m, crop in zip(matrices, crops):
        done = warp(image, m, out_size, out=crop)
        if not np.may_share_memory(done, crop):  # OpenCV made a new array instead of filling the one given
            crop[...] = done
    return crops


def _shrunk_source(image: np.ndarray, matrix: np.ndarray, w: int, h: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The anti-aliasing step of :func:`warp`: the part of ``image`` that a ``w`` × ``h`` crop by ``matrix`` reads,
    shrunk ``k`` times (each pixel the mean of a k × k block; the blocks on the photo's grid of multiples of k,
    the photo's last row and column repeated to fill its edge blocks), and the matrix from that small image to the
    crop. The same crop as shrinking the whole photo, at the cost of the face; ``k`` = ⌊1 / scale⌋, so the warp that
    follows shrinks by at most 2. It replaced a Gaussian pre-blur of that part: cheaper, the same AFW NME
    (docs/in-depth.md)."""
    ih, iw = image.shape[:2]
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ np.linalg.inv(matrix).T
    x0, y0 = np.floor(corners[:, :2].min(0)).astype(int) - 2 * k  # bilinear reach: one small pixel each side
    x1, y1 = np.ceil(corners[:, :2].max(0)).astype(int) + 2 * k
    x0, y0 = max(x0, 0) // k * k, max(y0, 0) // k * k
    x1, y1 = min(x1, iw), min(y1, ih)
    if x1 <= x0 or y1 <= y0:  # the crop lies outside the photo: all border, nothing to shrink
        return image, matrix
    part = image[y0:y1, x0:x1]
    pad_y, pad_x = -(y1 - y0) % k, -(x1 - x0) % k
    if pad_y or pad_x:
        part = cv2.copyMakeBorder(part, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
    small = cv2.resize(np.ascontiguousarray(part), (part.shape[1] // k, part.shape[0] // k),
                       interpolation=cv2.INTER_AREA)
    return small, matrix @ np.array([[k, 0, x0], [0, k, y0], [0, 0, 1.0]])


def crop_face(image: np.ndarray, box: SquareBox, out_size: int, rotation_deg: float = 0.0,
              flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Crop ``box`` to ``out_size``; returns (crop, matrix image→crop)."""
    m = crop_matrix(box, out_size, rotation_deg, flip)
    return warp(image, m, out_size), m
