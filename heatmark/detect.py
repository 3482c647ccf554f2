"""Face detectors that need no download, behind one call: ``detector(rgb) -> (boxes (N, 4) xyxy, scores (N,))``.

- ``opencv``: OpenCV's bundled Haar cascade (``haarcascade_frontalface_default.xml``, shipped in the
  opencv-python(-headless) 4.x wheels). Frontal faces; fast on a CPU.
- ``mtcnn``: the MTCNN cascade (P-, R-, O-Net) shipped as ONNX files, run on onnxruntime and NumPy
  (:mod:`heatmark.mtcnn`); finds turned, small and partly hidden faces the Haar cascade misses.
- ``dlib``: dlib's HOG + linear SVM detector, when the optional ``dlib`` package is installed.
- any callable with the same signature (your own detector), or ``None`` with explicit boxes.

Detector boxes are not landmark boxes: each detector has a calibration (``BOX_CALIBRATION``) that turns its
box into the square crop the landmark model was trained on (``box_from_landmarks(points, box_scale)``).
``tools/calibrate_detector.py`` measures it on annotated faces.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from heatmark.data.crops import SquareBox
from heatmark.errors import HeatmarkError

# detector → (side of the landmark bounding box / detector box side, landmark-box centre shift
# (dx, dy) in detector box sides), the medians over matched faces of
#   python tools/calibrate_detector.py --detector NAME --dataset 300w --root ../shared/data/300w_afw
# opencv, measured 2026-11-22: 288 of 337 AFW faces found (recall 85.5 %), ~30 ms per image.
# dlib (HOG, upsample 1, threshold -0.5), measured 2026-12-02 on 300w_helen_train (866 of 870 found):
#   python tools/calibrate_detector.py --detector dlib --root ../shared/data/300w_helen_train
# mtcnn, measured 2026-12-02 on the training faces of 300w_helen_train (870 of 870 found):
#   python tools/calibrate_detector.py --detector mtcnn --root ../shared/data/300w_helen_train
BOX_CALIBRATION: dict[str, tuple[float, float, float]] = {
    "opencv": (0.8784, 0.0003, 0.1477),
    "mtcnn": (0.8066, 0.0101, 0.1292),
    "dlib": (0.979, -0.0026, 0.0771),
}

Detector = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
DETECTORS = ("mtcnn", "opencv", "dlib")


def _cascade_path() -> Path:
    base = Path(getattr(getattr(cv2, "data", None), "haarcascades", "") or "")
    path = base / "haarcascade_frontalface_default.xml"
    if not path.is_file():
        raise HeatmarkError(
            f"OpenCV {cv2.__version__} has no bundled Haar cascade ({path}); install opencv-python-headless<5 "
            "(as heatmark's requirements pin), or pass your own boxes / detector")
    return path


class OpenCVDetector:
    """Haar cascade on a grey, downscaled copy (longer side ≤ ``max_side``) for speed. Not thread-safe (the
    Landmarker calls it under a lock)."""

    name = "opencv"
    thread_safe = False

    def __init__(self, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: float = 0.08,
                 max_side: int = 480):
        self.cascade = cv2.CascadeClassifier(str(_cascade_path()))
        if self.cascade.empty():
            raise HeatmarkError(f"OpenCV could not load {_cascade_path()}")
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors
        self.min_size, self.max_side = min_size, max_side

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = rgb.shape[:2]
        s = min(1.0, self.max_side / max(h, w))
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if s < 1:
            grey = cv2.resize(grey, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        grey = cv2.equalizeHist(grey)
        side = max(12, int(self.min_size * min(grey.shape)))
        rects, _, weights = self.cascade.detectMultiScale3(grey, self.scale_factor, self.min_neighbors,
                                                           minSize=(side, side), outputRejectLevels=True)
        if len(rects) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        r = np.asarray(rects, np.float32) / s
        boxes = np.stack([r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3]], 1)
        scores = np.asarray(weights, np.float32).reshape(-1)
        order = np.argsort(-scores)
        return boxes[order], scores[order]


class DlibDetector:
    """dlib's HOG detector (``pip install dlib``)."""

    name = "dlib"

    def __init__(self, upsample: int = 1):
        try:
            import dlib
        except ImportError:
            raise HeatmarkError("the dlib detector needs the optional package dlib (pip install dlib)") from None
        self.det, self.upsample = dlib.get_frontal_face_detector(), upsample

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rects, scores, _ = self.det.run(rgb, self.upsample, -0.5)
        return dlib_boxes(rects).astype(np.float32), np.asarray(scores, np.float32)


def dlib_boxes(rects) -> np.ndarray:
    """(N, 4) x1 y1 x2 y2 of dlib rectangles (their right and bottom are inclusive pixel indices)."""
    return np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects], np.float64).reshape(-1, 4)


def get_detector(detector: str | Detector | None) -> Detector | None:
    if detector is None or callable(detector):
        return detector
    if detector == "opencv":
        return OpenCVDetector()
    if detector == "dlib":
        return DlibDetector()
    if detector == "mtcnn" or str(detector).startswith("mtcnn:"):
        from heatmark.mtcnn import MTCNNDetector

        return MTCNNDetector() if detector == "mtcnn" else MTCNNDetector(min_face=mtcnn_min_face(detector))
    raise HeatmarkError(f"unknown detector {detector!r}; valid: {', '.join(DETECTORS)}, mtcnn:MIN_FACE (e.g. "
                        "mtcnn:48), or a callable")


def mtcnn_min_face(spec: str) -> float:
    """The smallest face side of an ``mtcnn:MIN_FACE`` detector name (pixels; 12 to 1000)."""
    try:
        value = float(spec.split(":", 1)[1])
    except ValueError:
        value = float("nan")
    if not 12 <= value <= 1000:
        raise HeatmarkError(f"detector {spec!r}: MIN_FACE must be a number of pixels from 12 to 1000, e.g. mtcnn:48")
    return value


def crop_box_from_detection(xyxy, detector_name: str | None, box_scale: float, roll_deg: float = 0.0) -> SquareBox:
    """The model's square crop for a detector box, through the detector's calibration. ``roll_deg``: the face's
    in-plane rotation (eye line against the x axis); the calibrated centre shift turns with the face."""
    ratio, dx, dy = BOX_CALIBRATION.get(detector_name or "", (1.0, 0.0, 0.0))
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    side = max(x2 - x1, y2 - y1)
    if roll_deg:
        a = np.deg2rad(roll_deg)
        dx, dy = dx * np.cos(a) - dy * np.sin(a), dx * np.sin(a) + dy * np.cos(a)
    return SquareBox((x1 + x2) / 2 + dx * side, (y1 + y2) / 2 + dy * side, max(1.0, side * ratio * box_scale))


def roll_from_keypoints(points: np.ndarray) -> np.ndarray:
    """(N,) in-plane rotation in degrees of faces with 5 detector points (N, 5, 2; left eye, right eye first): the
    angle of the eye line against the image's x axis (positive: the right eye lower in the image)."""
    d = points[:, 1] - points[:, 0]
    return np.degrees(np.arctan2(d[:, 1], d[:, 0]))


def box_iou(box, boxes: np.ndarray) -> np.ndarray:
    """(N,) intersection over union of one box (x1, y1, x2, y2) with each of ``boxes`` (N, 4)."""
    box, boxes = np.asarray(box, np.float64), np.asarray(boxes, np.float64).reshape(-1, 4)
    lt, rb = np.maximum(box[:2], boxes[:, :2]), np.minimum(box[2:], boxes[:, 2:])
    inter = np.clip(rb - lt, 0, None).prod(1)
    union = (box[2:] - box[:2]).prod() + (boxes[:, 2:] - boxes[:, :2]).prod(1) - inter
    return inter / np.maximum(union, 1e-9)


def match_detection(boxes: np.ndarray, landmarks: np.ndarray, min_iou: float = 0.3) -> int | None:
    """The index of the detection that overlaps the bounding box of an annotated face's ``landmarks`` most, if
    that overlap is at least ``min_iou`` (the match rule of heatmark's detector evaluations), else None."""
    if len(boxes) == 0:
        return None
    iou = box_iou(np.concatenate([landmarks.min(0), landmarks.max(0)]), boxes)
    j = int(np.argmax(iou))
    return j if iou[j] >= min_iou else None


MAX_BOX_SIDE = 8.0  # a box side may be at most this many times the image's longer side


def check_boxes(boxes, width: int, height: int) -> np.ndarray:
    """User boxes as (N, 4) float32 x1 y1 x2 y2, or :class:`HeatmarkError` saying what is wrong with which box:
    not 4 numbers, NaN/Inf, x2 <= x1 or y2 <= y1, no overlap with the image, or absurdly large."""
    try:
        arr = np.asarray(boxes, np.float64)
    except (TypeError, ValueError):
        raise HeatmarkError(f"boxes must be numbers [[x1, y1, x2, y2], ...], got {boxes!r}") from None
    if arr.size == 0:
        return np.zeros((0, 4), np.float32)
    if arr.ndim > 2 or arr.shape[-1] != 4:
        raise HeatmarkError(f"each box is 4 numbers x1, y1, x2, y2; got an array of shape {arr.shape}")
    arr = arr.reshape(-1, 4)
    for i, (x1, y1, x2, y2) in enumerate(arr):
        if not np.isfinite([x1, y1, x2, y2]).all():
            raise HeatmarkError(f"box {i} {[x1, y1, x2, y2]} has NaN or Inf")
        if x2 <= x1 or y2 <= y1:
            raise HeatmarkError(f"box {i} {[x1, y1, x2, y2]} has no area: x2 must exceed x1 and y2 exceed y1")
        if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
            raise HeatmarkError(f"box {i} {[x1, y1, x2, y2]} lies outside the {width}x{height} image")
        if max(x2 - x1, y2 - y1) > MAX_BOX_SIDE * max(width, height):
            raise HeatmarkError(f"box {i} {[x1, y1, x2, y2]} is over {MAX_BOX_SIDE:g}x the {width}x{height} image")
    return arr.astype(np.float32)
