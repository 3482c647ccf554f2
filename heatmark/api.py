"""``heatmark.Landmarker``: faces in, landmarks out. Needs no trainer and downloads nothing.

    >>> import heatmark
    >>> lm = heatmark.Landmarker()                  # the shipped default model
    >>> faces = lm.predict("photo.jpg")             # detect faces, then landmarks
    >>> faces[0].landmarks.shape                    # (68, 2) in original-image pixels
    >>> lm.predict(frame_bgr, color="bgr", boxes=[[x1, y1, x2, y2]])   # your own boxes

Coordinates are heatmark's convention: continuous pixels, origin at the top-left corner of the top-left
pixel (the centre of pixel (0, 0) is (0.5, 0.5)).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heatmark.checkpoint import load_model
from heatmark.data.crops import SquareBox, box_from_landmarks, crop_matrix, invert, transform_points, warp
from heatmark.data.image_io import read_image, to_rgb_uint8
from heatmark.detect import crop_box_from_detection, get_detector
from heatmark.errors import DataError, HeatmarkError
from heatmark.inference import CropPredictor

WEIGHTS_DIR = Path(__file__).parent / "weights"


def shipped_models() -> list[str]:
    """Names of the models shipped in the package (``default``: synthetic-only; ``mixing``: with real faces)."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))


def default_weights(variant: str = "default") -> Path:
    path = WEIGHTS_DIR / f"{variant}.safetensors"
    if not path.is_file():
        raise HeatmarkError(f"no shipped model {variant!r} in {WEIGHTS_DIR} (available: {shipped_models() or 'none'}); "
                            "pass weights=PATH to a .safetensors file trained with heatmark")
    return path


def resolve_weights(weights: str | Path | None) -> Path:
    """None → the shipped default; the name of a shipped model (``"mixing"``) → its file; else a path."""
    if weights is None or str(weights) == "":
        return default_weights()
    s = str(weights)
    if "/" not in s and "\\" not in s and not s.endswith(".safetensors") and not Path(s).exists():
        return default_weights(s)
    return Path(weights)


@dataclass
class Face:
    box: np.ndarray  # (4,) x1, y1, x2, y2: the detector's (or your) box
    landmarks: np.ndarray  # (K, 2) original-image pixels
    scores: np.ndarray  # (K,) per-point confidence (heatmap peak value; 1 for regression models)
    detection_score: float | None = None

    def to_dict(self) -> dict:
        return {"box": [round(float(v), 2) for v in self.box],
                "landmarks": [[round(float(x), 3), round(float(y), 3)] for x, y in self.landmarks],
                "scores": [round(float(s), 4) for s in self.scores],
                "detection_score": None if self.detection_score is None else float(self.detection_score)}


def as_rgb(image, color: str = "rgb") -> np.ndarray:
    """A path, a NumPy array (``color`` = "rgb" or "bgr"; grey and 4-channel arrays too) or a PIL image →
    RGB uint8 (H, W, 3)."""
    if isinstance(image, (str, Path)):
        return read_image(image)
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL.Image
        return np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise DataError(None, f"expected an image array (H, W) or (H, W, C), got shape {arr.shape}")
    color = color.lower()
    if color not in ("rgb", "bgr"):
        raise HeatmarkError(f"color must be 'rgb' or 'bgr', got {color!r}")
    if arr.ndim == 3 and arr.shape[2] in (3, 4) and color == "rgb":
        arr = arr[:, :, [2, 1, 0] + ([3] if arr.shape[2] == 4 else [])]  # to BGR(A) for the shared converter
    return to_rgb_uint8(np.ascontiguousarray(arr))


class Landmarker:
    """Face detection + landmark model, on the CPU (or a GPU with ``device="cuda"``).

    weights: a heatmark ``.safetensors`` file, or the name of a shipped model: ``"default"`` (synthetic-only
    training, used when ``weights`` is None) or ``"mixing"`` (trained with real faces mixed in). detector: ``"opencv"``
    (default), ``"dlib"``, a callable ``rgb -> (boxes, scores)``, or ``None`` (then pass ``boxes``).
    backend: ``"torch"`` or ``"onnx"`` (onnxruntime; exported on first use to a cache file).
    flip: horizontal-flip test-time augmentation (averages the prediction with the mirrored one).
    """

    def __init__(self, weights: str | Path | None = None, detector="opencv", device: str = "cpu",
                 backend: str = "torch", flip: bool = False, decoder: str | None = None, onnx_path=None):
        self.weights = resolve_weights(weights)
        self.model, self.codec, self.scheme, self.meta = load_model(self.weights)
        self.input_size = int(self.meta["input_size"])
        self.box_scale = float(self.meta["box_scale"])
        self.flip, self.decoder, self.backend = flip, decoder, backend
        self.predictor = CropPredictor(self.model, self.codec, self.scheme, self.input_size, backend, device, flip,
                                       decoder, onnx_path)
        self.device = self.predictor.device
        self._detector_spec = detector
        self._detector = None

    @classmethod
    def from_pretrained(cls, path: str | Path, **kw) -> Landmarker:
        return cls(weights=path, **kw)

    @property
    def detector(self):
        if self._detector is None and self._detector_spec is not None:
            self._detector = get_detector(self._detector_spec)
        return self._detector

    # ------------------------------------------------------------------ network
    def run_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, S, S, 3) uint8 crops → points (N, K, 2) in crop pixels, scores (N, K)."""
        return self.predictor.run_crops(crops)

    def predict_boxes(self, rgb: np.ndarray, crop_boxes: list[SquareBox]) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks for square crop boxes of one image: (N, K, 2) image pixels, (N, K) scores."""
        if not crop_boxes:
            k = self.scheme.num_points
            return np.zeros((0, k, 2)), np.zeros((0, k))
        mats = np.stack([crop_matrix(b, self.input_size) for b in crop_boxes])
        crops = np.stack([warp(rgb, m, self.input_size) for m in mats])
        pts, scores = self.run_crops(crops)
        return transform_points(invert(mats), pts), scores

    # ------------------------------------------------------------------ public
    def detect(self, image, color: str = "rgb") -> tuple[np.ndarray, np.ndarray]:
        if self.detector is None:
            raise HeatmarkError("no detector configured: pass boxes=... or create Landmarker(detector='opencv')")
        return self.detector(as_rgb(image, color))

    def predict(self, image, boxes=None, color: str = "rgb") -> list[Face]:
        """One :class:`Face` per detected face (or per given box, x1 y1 x2 y2 in image pixels)."""
        rgb = as_rgb(image, color)
        det_scores = None
        if boxes is None:
            boxes, det_scores = self.detect(rgb)
            name = getattr(self.detector, "name", None)
        else:
            boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
            name = None
        crop_boxes = [crop_box_from_detection(b, name, self.box_scale) for b in boxes]
        pts, scores = self.predict_boxes(rgb, crop_boxes)
        return [Face(np.asarray(b, np.float32), pts[i].astype(np.float32), scores[i].astype(np.float32),
                     None if det_scores is None else float(det_scores[i])) for i, b in enumerate(boxes)]

    def predict_batch(self, images, boxes=None, color: str = "rgb") -> list[list[Face]]:
        """:meth:`predict` for many images (``boxes``: one list of boxes per image, or None)."""
        boxes = boxes if boxes is not None else [None] * len(images)
        return [self.predict(im, b, color) for im, b in zip(images, boxes)]

    def track(self, image, previous: np.ndarray, color: str = "rgb") -> tuple[np.ndarray, np.ndarray]:
        """Landmarks in a new frame from the previous frame's landmarks (no detection)."""
        rgb = as_rgb(image, color)
        pts, scores = self.predict_boxes(rgb, [box_from_landmarks(previous, self.box_scale)])
        return pts[0], scores[0]
