"""Face filters: accessories placed, scaled and rotated from the landmarks, alpha-blended onto the photo.

An overlay is an RGBA image plus two anchor points in it and, for each anchor, where it goes on the face: the
mean of some iBUG-68 landmarks, moved by an offset in the face's own frame (x along the eye line, y down,
in units of the outer-eye-corner distance). The two pairs define a similarity transform (scale, rotation,
shift). The built-in overlays (:data:`BUILTIN`) are drawn by this module, so there is no licence question;
users give their own PNG with a YAML file::

    image: crown.png                 # RGBA, beside the YAML file
    anchors: [[40, 210], [360, 210]] # two points in the PNG (pixels)
    targets:                         # where each anchor goes on the face
      - {points: [17, 18, 19], offset: [0.0, -0.6]}
      - {points: [24, 25, 26], offset: [0.0, -0.6]}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from heatmark.errors import DataError

RIGHT_EYE, LEFT_EYE = tuple(range(36, 42)), tuple(range(42, 48))


@dataclass
class Overlay:
    """An accessory image and where it sits on a face.

    Attributes:
        rgba: (H, W, 4) uint8 image with alpha.
        anchors: (2, 2) two points in ``rgba`` (pixels).
        targets: for each anchor, (iBUG-68 landmark indices whose mean it goes to, (x, y) offset in face units: x
            along the eye line, y down, in outer-eye-corner distances).

    Examples:
        >>> glasses = load_overlay("glasses")
        >>> out = glasses.apply(rgb, Landmarker().predict(rgb)[0].landmarks)
    """

    rgba: np.ndarray  # (H, W, 4) uint8
    anchors: np.ndarray  # (2, 2) pixels in rgba
    targets: list[tuple[tuple[int, ...], tuple[float, float]]]  # (landmark indices, offset in face units) × 2

    def place(self, landmarks: np.ndarray) -> np.ndarray:
        """The similarity transform that puts the overlay on a face.

        Args:
            landmarks: (K ≥ 68, 2) iBUG-68 landmarks of the face, image pixels.

        Returns:
            2×3 affine matrix from overlay pixels to image pixels (heatmark's continuous coordinates).
        """
        p = np.asarray(landmarks, np.float64)
        ex = p[45] - p[36]
        unit = float(np.linalg.norm(ex))
        ex = ex / max(unit, 1e-9)
        ey = np.array([-ex[1], ex[0]])
        dst = np.stack([p[list(idx)].mean(0) + (ox * ex + oy * ey) * unit for idx, (ox, oy) in self.targets])
        a, b = self.anchors
        va, vb = b - a, dst[1] - dst[0]
        s = np.linalg.norm(vb) / max(np.linalg.norm(va), 1e-9)
        ang = np.arctan2(vb[1], vb[0]) - np.arctan2(va[1], va[0])
        r = s * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        return np.hstack([r, (dst[0] - r @ a)[:, None]])

    def apply(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The overlay blended onto one face.

        Args:
            rgb: the image, RGB uint8 (H, W, 3).
            landmarks: (K ≥ 68, 2) iBUG-68 landmarks of the face, image pixels (continuous coordinates).

        Returns:
            A new RGB uint8 image of the same size (``rgb`` is not changed).
        """
        h, w = rgb.shape[:2]
        m = self.place(landmarks)
        # heatmark's continuous coordinates → OpenCV's pixel-centre convention on both sides
        shift = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
        full = shift @ np.vstack([m, [0, 0, 1]]) @ np.linalg.inv(shift)
        layer = cv2.warpAffine(self.rgba, full[:2], (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
        alpha = layer[..., 3:4].astype(np.float32) / 255.0
        return (rgb * (1 - alpha) + layer[..., :3] * alpha).round().astype(np.uint8)


# ------------------------------------------------------------------ built-in overlays, drawn here
def _glasses() -> Overlay:
    img = np.zeros((160, 440, 4), np.uint8)
    for cx in (110, 330):
        cv2.circle(img, (cx, 80), 62, (30, 40, 60, 150), -1, cv2.LINE_AA)  # tinted lens
        cv2.circle(img, (cx, 80), 64, (15, 15, 15, 255), 9, cv2.LINE_AA)  # frame
        cv2.ellipse(img, (cx - 22, 58), (20, 10), -30, 0, 360, (255, 255, 255, 110), -1, cv2.LINE_AA)  # glint
    cv2.ellipse(img, (220, 78), (46, 24), 0, 200, 340, (15, 15, 15, 255), 9, cv2.LINE_AA)  # bridge
    cv2.line(img, (42, 70), (2, 60), (15, 15, 15, 255), 9, cv2.LINE_AA)
    cv2.line(img, (398, 70), (438, 60), (15, 15, 15, 255), 9, cv2.LINE_AA)
    return Overlay(img, np.array([[110.0, 80.0], [330.0, 80.0]]), [(RIGHT_EYE, (0.0, 0.0)), (LEFT_EYE, (0.0, 0.0))])


def _moustache() -> Overlay:
    img = np.zeros((120, 320, 4), np.uint8)
    t = np.linspace(0, 1, 40)
    for side in (-1, 1):  # each half: a curled wedge
        xs = 160 + side * (10 + 140 * t)
        ys = 50 + 25 * np.sin(np.pi * t) - 30 * t**3
        top = np.stack([xs, ys - 28 * (1 - t) ** 0.7], 1)
        bottom = np.stack([xs, ys + 10 * (1 - t)], 1)[::-1]
        cv2.fillPoly(img, [np.vstack([top, bottom]).round().astype(np.int32)], (45, 28, 18, 245), cv2.LINE_AA)
    return Overlay(img, np.array([[90.0, 60.0], [230.0, 60.0]]),
                   [((48,), (0.05, -0.12)), ((54,), (-0.05, -0.12))])


def _hat() -> Overlay:
    img = np.zeros((340, 420, 4), np.uint8)
    cv2.rectangle(img, (100, 20), (320, 290), (25, 25, 30, 255), -1)  # crown
    cv2.rectangle(img, (100, 230), (320, 270), (140, 20, 30, 255), -1)  # band
    cv2.ellipse(img, (210, 295), (205, 38), 0, 0, 360, (25, 25, 30, 255), -1, cv2.LINE_AA)  # brim
    return Overlay(img, np.array([[60.0, 300.0], [360.0, 300.0]]),
                   [((17, 18), (-0.2, -0.45)), ((25, 26), (0.2, -0.45))])


def _mask() -> Overlay:
    img = np.zeros((300, 400, 4), np.uint8)
    pts = np.array([[40, 60], [200, 25], [360, 60], [372, 195], [200, 292], [28, 195]], np.int32)
    cv2.fillPoly(img, [pts], (150, 200, 230, 250), cv2.LINE_AA)
    for y in (100, 145, 190):
        cv2.line(img, (60, y), (340, y), (110, 160, 200, 255), 3, cv2.LINE_AA)  # pleats
    cv2.line(img, (40, 60), (0, 40), (235, 235, 235, 255), 4, cv2.LINE_AA)
    cv2.line(img, (360, 60), (399, 40), (235, 235, 235, 255), 4, cv2.LINE_AA)
    return Overlay(img, np.array([[40.0, 60.0], [360.0, 60.0]]), [((2,), (0.05, -0.05)), ((14,), (-0.05, -0.05))])


BUILTIN = {"glasses": _glasses, "moustache": _moustache, "hat": _hat, "mask": _mask}


def load_overlay(spec: str | Path) -> Overlay:
    """A built-in overlay by name, or a user's overlay from its YAML file (format in the module docstring).

    Args:
        spec: ``glasses``, ``moustache``, ``hat``, ``mask`` (drawn by heatmark) or the path of a ``.yaml`` file.

    Returns:
        The overlay.

    Raises:
        DataError: an unknown name, a missing or malformed YAML file or PNG (the message names the file and key).

    Examples:
        >>> hat = load_overlay("hat")
        >>> crown = load_overlay("my_overlays/crown.yaml")
    """
    if str(spec) in BUILTIN:
        return BUILTIN[str(spec)]()
    path = Path(spec)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise DataError(None, f"unknown overlay {str(spec)!r}",
                        f"use one of {', '.join(BUILTIN)} or a .yaml file describing your PNG")
    if not path.is_file():
        raise DataError(path, "overlay file not found")
    import yaml

    try:
        d = yaml.safe_load(path.read_text())
        img_path = path.parent / d["image"]
        anchors = np.asarray(d["anchors"], np.float64).reshape(2, 2)
        targets = [(tuple(int(i) for i in t["points"]), tuple(float(v) for v in t.get("offset", (0, 0))))
                   for t in d["targets"]]
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as e:
        raise DataError(path, f"not a valid overlay description ({type(e).__name__}: {e})",
                        "it needs image, anchors (two [x, y]) and targets "
                        "(two {points: [...], offset: [x, y]})") from None
    if len(targets) != 2 or any(not t[0] or min(t[0]) < 0 or max(t[0]) > 67 or len(t[1]) != 2 for t in targets):
        raise DataError(path, "targets must be two entries with iBUG-68 point indices (0-67) and an [x, y] offset")
    img = cv2.imread(str(img_path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DataError(img_path, "overlay image not found or not readable", "give a PNG with transparency")
    if img.ndim != 3 or img.shape[2] != 4:
        raise DataError(img_path, "overlay image has no alpha channel", "save it as an RGBA PNG")
    return Overlay(cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA), anchors, targets)
