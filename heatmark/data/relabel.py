"""Label conventions: move synthetic contour points to where real-face annotators put them.

FaceSynthetics draws the 17 jaw points (iBUG 0–16) where the 3D jaw projects ("x-ray"): on a turned face
the far-side jaw sits inside the cheek. 300W annotators put them on the *visible* outline of the face. Each
FaceSynthetics sample has a segmentation mask (``_seg.png``); :func:`silhouette_jaw` moves the jaw points
onto the silhouette of the face region in it and spaces them along that outline as 300W does (point 8 on the
chin, 0–8 and 8–16 evenly along the outline).

How: the face region is the union of the face classes (skin, nose, eyes, brows, mouth, lips, beard, glasses,
face wear), closed, hole-filled, largest blob, cut at the eyebrow line (above it the region's edge is the
scalp's). Each jaw point moves along the outward normal of the jaw polyline (outwards from inside the region,
inwards from outside) to the region's edge. On a turned face the normal of the far-side x-ray jaw points
across the cheek to the far outline, which a ray from the face centre would not. A point whose edge is hair or
head wear (the outline is occluded), the brow cut, or farther than half the eye-to-chin distance keeps its
label (300W annotators guess occluded jaw points too). Each half of the jaw (0–8, 8–16) whose points all
reached the outline is then respaced evenly by arc length along its polyline and projected once more.

``relabel: silhouette`` on a training source applies it (see ``heatmark.engine.data``). Pure NumPy/OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np

from heatmark.data.image_io import read_mask
from heatmark.data.records import LandmarkRecord, Records
from heatmark.errors import ConfigError, DataError

# FaceSynthetics segmentation classes
BACKGROUND, SKIN, NOSE, RIGHT_EYE, LEFT_EYE, RIGHT_BROW, LEFT_BROW, RIGHT_EAR, LEFT_EAR = range(9)
MOUTH_INTERIOR, TOP_LIP, BOTTOM_LIP, NECK, HAIR, BEARD, CLOTHING, GLASSES, HEADWEAR, FACEWEAR = range(9, 19)
IGNORE = 255
FACE_CLASSES = (SKIN, NOSE, RIGHT_EYE, LEFT_EYE, RIGHT_BROW, LEFT_BROW, MOUTH_INTERIOR, TOP_LIP, BOTTOM_LIP,
                BEARD, GLASSES, FACEWEAR)
OCCLUDERS = (HAIR, HEADWEAR, IGNORE)  # an outline against these is not the face's own edge

JAW = np.arange(17)  # iBUG-68 jaw; the first 68 points of FaceSynthetics-70 are iBUG-68
RELABELS = ("silhouette",)
MAX_MOVE = 0.5  # a jaw point moves at most this share of the eye-to-chin distance


def face_region(seg: np.ndarray, classes=FACE_CLASSES, close_px: int = 5) -> np.ndarray:
    """Binary (H, W) uint8 mask of the largest face blob: face classes, closed, holes filled."""
    m = np.isin(seg, classes).astype(np.uint8)
    if close_px > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_px, close_px))
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, k)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.zeros_like(m)
    if contours:
        cv2.drawContours(out, [max(contours, key=cv2.contourArea)], -1, 1, thickness=cv2.FILLED)
    return out


def below_brows(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels below the line through the highest eyebrow point, parallel to the eye axis
    (iBUG-68 indices). The jaw outline lies below it; above it the region's edge is the scalp's."""
    pts = np.asarray(landmarks, np.float64)
    eyes = (pts[36] + pts[45]) / 2
    e = pts[45] - pts[36]
    n = np.array([-e[1], e[0]]) / max(np.linalg.norm(e), 1e-9)
    if np.dot(pts[48:68].mean(0) - eyes, n) < 0:
        n = -n  # n points from the eyes towards the mouth
    level = float(((pts[17:27] - eyes) @ n).min())
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    return ((xs + 0.5 - eyes[0]) * n[0] + (ys + 0.5 - eyes[1]) * n[1]) >= level


def march(region: np.ndarray, starts: np.ndarray, dirs: np.ndarray, max_dist: float, step: float = 0.25,
          want: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walk from each start (K, 2) along its unit direction (K, 2) until the first sample whose ``region`` value
    is ``want`` (False: leaving the region; True: entering it), at most ``max_dist`` pixels. Returns the position
    just before that sample (K, 2), that sample's pixel (x, y) (K, 2) int, and (K,) bool: found in reach."""
    h, w = region.shape
    t = np.arange(int(np.ceil(max_dist / step)) + 1) * step
    xy = starts[:, None, :] + t[None, :, None] * dirs[:, None, :]  # (K, S, 2)
    ix, iy = np.floor(xy[..., 0]).astype(int), np.floor(xy[..., 1]).astype(int)
    inb = (ix >= 0) & (iy >= 0) & (ix < w) & (iy < h)
    val = np.zeros(ix.shape, bool)
    val[inb] = region[iy[inb], ix[inb]] > 0
    hit = val == want
    found = hit.any(1)
    k = np.argmax(hit, axis=1)
    rows = np.arange(len(starts))
    pos = starts + np.maximum(t[k] - step / 2, 0)[:, None] * dirs
    return pos, np.stack([ix[rows, k], iy[rows, k]], 1), found


def outward_normals(curve: np.ndarray) -> np.ndarray:
    """Unit normals (K, 2) of an iBUG jaw polyline (0 on the image's left for an upright face, through the
    chin to 16), pointing away from the face: (-t_y, t_x) for the tangent t in image coordinates (y down)."""
    t = np.gradient(curve, axis=0)
    n = np.stack([-t[:, 1], t[:, 0]], 1)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)


def _respace(points: np.ndarray, anchors: tuple[int, ...] = (0, 8, 16)) -> np.ndarray:
    """Points evenly spaced by arc length along their own polyline between consecutive ``anchors``."""
    out = points.copy()
    for a, b in zip(anchors[:-1], anchors[1:]):
        seg = points[a:b + 1]
        s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(seg, axis=0), axis=1))])
        if s[-1] <= 1e-9:
            continue
        target = np.linspace(0.0, s[-1], b - a + 1)
        out[a:b + 1, 0] = np.interp(target, s, seg[:, 0])
        out[a:b + 1, 1] = np.interp(target, s, seg[:, 1])
    return out


def silhouette_jaw(landmarks: np.ndarray, seg: np.ndarray, respace: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Jaw points (0–16) of iBUG-68/FaceSynthetics-70 ``landmarks`` moved onto the visible outline of the face
    region of ``seg`` (the ``relabel: silhouette`` reader option). Points whose outline is occluded (hair, head
    wear) keep their label.

    Args:
        landmarks: (K ≥ 68, 2) points, heatmark's continuous pixel coordinates.
        seg: (H, W) FaceSynthetics class mask (``_seg.png``) of the same image.
        respace: spread the moved points evenly along the outline, as 300W's annotators do.

    Returns:
        New landmarks (K, 2) (only jaw points changed) and a (17,) bool array, true where a jaw point moved onto
        the outline.

    Raises:
        ConfigError: fewer than 68 points.

    Examples:
        >>> new, moved = silhouette_jaw(record.landmarks, read_seg("000123_seg.png"))
    """
    pts = np.asarray(landmarks, np.float64)
    if pts.shape[0] < 68:
        raise ConfigError(f"silhouette relabelling needs iBUG-68 jaw points (68 or 70 points), got {pts.shape[0]}")
    region = face_region(seg) * below_brows(seg.shape, pts)
    h, w = region.shape
    out = pts.copy()
    jaw = pts[JAW]
    max_move = MAX_MOVE * float(np.linalg.norm(pts[8] - (pts[36] + pts[45]) / 2))

    def project(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each point to the outline along the jaw's outward normal: outwards from inside, inwards from outside."""
        n = outward_normals(p)
        ix, iy = np.clip(np.floor(p[:, 0]).astype(int), 0, w - 1), np.clip(np.floor(p[:, 1]).astype(int), 0, h - 1)
        inside = region[iy, ix] > 0
        edge_out, pix, f_out = march(region, p, n, max_move, want=False)
        edge_in, _, f_in = march(region, p, -n, max_move, want=True)
        edge = np.where(inside[:, None], edge_out, edge_in)
        inb = (pix[:, 0] >= 0) & (pix[:, 1] >= 0) & (pix[:, 0] < w) & (pix[:, 1] < h)
        cls = np.full(len(p), BACKGROUND)
        cls[inb] = seg[pix[inb, 1], pix[inb, 0]]
        # moved only where the outline is the face's own edge (not the brow cut, hair or head wear), within
        # half the eye-to-chin distance: anything farther is the outline of something else
        ok = np.where(inside, f_out & ~np.isin(cls, OCCLUDERS + FACE_CLASSES), f_in)
        return np.where(ok[:, None], edge, p), ok

    moved, ok = project(jaw)
    if respace:  # a half (0-8, 8-16) whose points all reached the outline is respaced along it
        again, ok2 = project(_respace(moved))
        for half in (slice(0, 9), slice(8, 17)):
            if ok[half].all():
                moved[half] = np.where(ok2[half, None], again[half], moved[half])
    out[JAW] = moved
    return out.astype(np.float32), ok


def relabel_records(records: Records, how: str | None) -> Records:
    """A copy of ``records`` with their labels converted (``how``: None or one of :data:`RELABELS`)."""
    if how is None:
        return records
    if how not in RELABELS:
        raise ConfigError(f"relabel: unknown value {how!r}; valid: {', '.join(RELABELS)} (or leave it out)")
    out = []
    for r in records:
        if r.seg_path is None:
            raise DataError(r.image_path, "relabel: silhouette needs the segmentation mask beside the image",
                            f"add {r.image_path.stem}_seg.png, or drop relabel from this source")
        if r.landmarks.shape[0] < 68:
            raise DataError(r.annotation_path, f"relabel: silhouette needs 68 or 70 points, got {r.landmarks.shape[0]}")
        new, _ = silhouette_jaw(r.landmarks, read_mask(r.seg_path))
        out.append(LandmarkRecord(image_path=r.image_path, landmarks=new, scheme=r.scheme, visible=r.visible,
                                  box=r.box, seg_path=r.seg_path, annotation_path=r.annotation_path,
                                  image_array=r.image_array))
    return Records(out, records.skipped)
