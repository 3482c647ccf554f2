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

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heatmark.data.crops import SquareBox, box_from_landmarks, crop_matrix, invert, transform_points, warp
from heatmark.data.image_io import read_image, to_rgb_uint8
from heatmark.detect import crop_box_from_detection, get_detector, roll_from_keypoints
from heatmark.errors import DataError, HeatmarkError

WEIGHTS_DIR = Path(__file__).parent / "weights"


# names of earlier releases → the shipped model that replaces them
ALIASES = {"mixing": "default"}


def shipped_models() -> list[str]:
    """Names of the models shipped in the package (``default``: the most accurate, trained with real labels;
    ``synthetic``: trained without real landmark labels). Each is a ``.safetensors`` file (training, torch) and an
    ``.onnx`` file (inference without torch) with the same card."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))


def default_weights(variant: str = "default") -> Path:
    variant = ALIASES.get(variant, variant) if variant not in shipped_models() else variant
    path = WEIGHTS_DIR / f"{variant}.safetensors"
    if not path.is_file():
        raise HeatmarkError(f"no shipped model {variant!r} in {WEIGHTS_DIR} (available: {shipped_models() or 'none'}); "
                            "pass weights=PATH to a .safetensors file trained with heatmark")
    return path


def resolve_weights(weights: str | Path | None) -> Path:
    """None → the shipped default; a shipped model's name (``"synthetic"``) → its file, even when a file or folder
    of that name sits in the working directory (write ``./synthetic`` for that); anything else → a path."""
    if weights is None or str(weights) == "":
        return default_weights()
    s = str(weights)
    if isinstance(weights, str) and (s in shipped_models() or s in ALIASES):
        return default_weights(s)
    if "/" not in s and "\\" not in s and not s.endswith((".safetensors", ".onnx")) and not Path(s).exists():
        return default_weights(s)
    return Path(weights)


def shipped_onnx(weights: Path) -> Path | None:
    """The ONNX file to run for ``weights`` without torch: the file itself if it is ``.onnx``, the shipped
    ``NAME.int8.onnx`` or ``NAME.onnx`` beside a shipped ``NAME.safetensors``, else None."""
    if weights.suffix.lower() == ".onnx":
        return weights
    if weights.parent.resolve() != WEIGHTS_DIR.resolve():
        return None
    # an int8 file ships only where it lost <= 0.1 NME points and was faster (its card says so)
    for onnx in (weights.with_suffix(".int8.onnx"), weights.with_suffix(".onnx")):
        if onnx.is_file():
            return onnx
    return None


def resolve_adapter(adapter: str | Path, weights: Path) -> Path:
    """A label adapter file, or the name of one shipped with a shipped model (``"300w"`` for ``synthetic``:
    ``heatmark/weights/synthetic.300w-adapter.npz``)."""
    s = str(adapter)
    if "/" in s or "\\" in s or s.endswith(".npz") or Path(s).exists():
        return Path(adapter)
    shipped = WEIGHTS_DIR / f"{Path(weights).name.split('.')[0]}.{s}-adapter.npz"
    if shipped.is_file():
        return shipped
    have = sorted(p.name for p in WEIGHTS_DIR.glob("*-adapter.npz"))
    raise HeatmarkError(f"no shipped label adapter {s!r} for {Path(weights).name} (shipped adapters: "
                        f"{have or 'none'}); pass the path of an .npz file from heatmark adapt")


def _onnxruntime_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def shadowed_name(weights: str | Path | None) -> str | None:
    """A note when ``weights`` names a shipped model and a local file or folder of that name exists too."""
    if isinstance(weights, str) and (weights in shipped_models() or weights in ALIASES) and Path(weights).exists():
        return (f"note: --weights {weights} is the shipped model {default_weights(weights)}; the local "
                f"{'folder' if Path(weights).is_dir() else 'file'} {weights!r} was not used (write ./{weights} for it)")
    return None


UPRIGHT_DEFAULT = True  # chosen by measurement on AFW with MTCNN boxes (docs/in-depth.md, "Face detection")

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


@dataclass
class Face:
    """One face found in an image.

    Attributes:
        box: (4,) x1, y1, x2, y2 in image pixels: the detector's box, or the one you passed.
        landmarks: (K, 2) points in the image's pixels (continuous coordinates, origin at the top-left corner of
            the top-left pixel), in the model's scheme (68 iBUG points for the shipped models).
        scores: (K,) per-point confidence (the heatmap peak; 1 for regression models).
        detection_score: the detector's score, or None for your own boxes.
    """

    box: np.ndarray
    landmarks: np.ndarray
    scores: np.ndarray
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
        return read_image(image, orient=True)  # photos: as displayed (EXIF orientation applied)
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL.Image
        return np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise DataError(None, f"expected an image array (H, W) or (H, W, C), got shape {arr.shape}")
    color = color.lower()
    if color not in ("rgb", "bgr"):
        raise HeatmarkError(f"color must be 'rgb' or 'bgr', got {color!r}")
    if color == "rgb" and arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3:
        return np.ascontiguousarray(arr)  # already what the pipeline reads: no copy (two full-image copies saved)
    if arr.ndim == 3 and arr.shape[2] in (3, 4) and color == "rgb":
        arr = arr[:, :, [2, 1, 0] + ([3] if arr.shape[2] == 4 else [])]  # to BGR(A) for the shared converter
    return to_rgb_uint8(np.ascontiguousarray(arr))


class Landmarker:
    """Face detection + landmark model, on the CPU (or a GPU with ``device="cuda"``). Safe to share between
    threads (a detector that is not thread-safe, such as OpenCV's Haar cascade, runs under a lock).

    Args:
        weights: a heatmark ``.safetensors`` file, an ``.onnx`` file from ``heatmark export`` (then inference runs
            on onnxruntime and NumPy, without importing torch), or the name of a shipped model: ``"default"``
            (used when None) or ``"synthetic"`` (``"mixing"``, a name of an earlier release, means ``"default"``). A
            shipped name wins over a local path of that name.
        detector: ``"mtcnn"`` (default; shipped, onnxruntime), ``"opencv"`` (Haar cascade: faster, finds fewer
            faces), ``"dlib"``, a callable ``rgb -> (boxes (N, 4), scores (N,))``, or
            None (then pass ``boxes`` to :meth:`predict`).
        device: ``"cpu"`` or ``"cuda"`` (torch backend).
        backend: ``"auto"`` (default: onnxruntime when the model has an ONNX file, as every shipped model does,
            and ``device`` is the CPU; torch otherwise), ``"torch"``, or ``"onnx"`` (onnxruntime; a
            ``.safetensors`` model is exported once to a cache file).
        flip: horizontal-flip test-time augmentation (the mean with the mirrored prediction).
        decoder: a heatmap decoder overriding the model's (``argmax``, ``quarter``, ``dark``, ``soft_argmax``,
            ``local_soft_argmax``).
        onnx_path: where the onnx backend's export goes (default: a user cache file).
        upright: turn each detected face's crop upright by its roll, measured from the detector's eye points
            (MTCNN gives them; other detectors and your own boxes keep axis-aligned crops).
        adapter: a label adapter file (``heatmark adapt``) applied to every prediction, or the name of one shipped
            with the model (``Landmarker("synthetic", adapter="300w")``); it was fitted with real labels, so the
            result is not synthetic-only.

    Raises:
        HeatmarkError: an unknown shipped name, a backend other than torch/onnx.
        DataError: a weights or adapter file that is missing or unreadable (named in the message).

    Example:
        >>> import heatmark
        >>> lm = heatmark.Landmarker()
        >>> faces = lm.predict("photo.jpg")
        >>> faces[0].landmarks.shape
        (68, 2)
    """

    def __init__(self, weights: str | Path | None = None, detector: str | Callable | None = "mtcnn",
                 device: str = "cpu", backend: str = "auto", flip: bool = False, decoder: str | None = None,
                 onnx_path: str | Path | None = None,
                 adapter: str | Path | None = None, upright: bool = UPRIGHT_DEFAULT):
        self.weights = resolve_weights(weights)
        self.flip, self.decoder, self.upright = flip, decoder, upright
        self._detector_spec = detector
        self._detector = None
        self._detector_lock = threading.Lock()  # OpenCV's Haar cascade is not thread-safe: one call at a time
        self.adapter = None
        if adapter is not None:
            from heatmark.adapter import LabelAdapter

            self.adapter = LabelAdapter.load(resolve_adapter(adapter, self.weights))
        if backend not in ("auto", "torch", "onnx"):
            raise HeatmarkError(f"backend must be 'auto', 'torch' or 'onnx', got {backend!r}")
        onnx_file = shipped_onnx(self.weights)
        if backend == "auto":
            backend = "onnx" if onnx_file is not None and str(device) == "cpu" and _onnxruntime_available() else "torch"
        if backend == "torch" and self.weights.suffix.lower() == ".onnx":
            raise HeatmarkError(f"{self.weights} is an ONNX model: it runs on onnxruntime (backend='onnx' or 'auto')")
        if backend == "onnx" and onnx_file is not None:  # onnxruntime + NumPy: torch is never imported
            from heatmark.onnx_runtime import OnnxPredictor

            self.predictor = OnnxPredictor(onnx_file, flip, decoder)
            self.model = self.codec = None
            self.scheme, self.meta = self.predictor.scheme, self.predictor.meta
            self.backend, self.device = "onnx", "cpu"
        else:
            from heatmark.checkpoint import load_model
            from heatmark.inference import CropPredictor

            self.model, self.codec, self.scheme, self.meta = load_model(self.weights)
            self.predictor = CropPredictor(self.model, self.codec, self.scheme, int(self.meta["input_size"]),
                                           backend, device, flip, decoder, onnx_path)
            self.backend, self.device = backend, self.predictor.device
        self.input_size = int(self.meta["input_size"])
        self.box_scale = float(self.meta["box_scale"])

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

    def predict_boxes(self, rgb: np.ndarray, crop_boxes: list[SquareBox],
                      rolls: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks for square crop boxes of one image: (N, K, 2) image pixels, (N, K) scores. ``rolls``: each
        face's in-plane rotation in degrees; its crop is turned upright by it."""
        if not crop_boxes:
            k = self.scheme.num_points
            return np.zeros((0, k, 2)), np.zeros((0, k))
        rolls = np.zeros(len(crop_boxes)) if rolls is None else rolls
        mats = np.stack([crop_matrix(b, self.input_size, float(r)) for b, r in zip(crop_boxes, rolls)])
        crops = np.stack([warp(rgb, m, self.input_size) for m in mats])
        pts, scores = self.run_crops(crops)
        pts = transform_points(invert(mats), pts)
        return (self.adapter(pts) if self.adapter is not None else pts), scores

    def detect_crops(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[SquareBox], np.ndarray]:
        """Detector boxes (N, 4), scores (N,), the model's crop for each (through the detector's calibration) and
        each face's roll in degrees: from the detector's eye points when it gives them and ``upright`` is on
        (MTCNN does), else 0."""
        full = getattr(self.detector, "detect", None) if self.upright else None
        out = self._run_detector(full or self.detector, rgb)
        boxes, scores = out[0], out[1]
        rolls = roll_from_keypoints(out[2]) if full else np.zeros(len(boxes))
        name = getattr(self.detector, "name", None)
        return boxes, scores, [crop_box_from_detection(b, name, self.box_scale, r) for b, r in zip(boxes, rolls)], rolls

    def _run_detector(self, fn, rgb: np.ndarray):
        """``fn(rgb)`` (the detector or one of its methods), under the lock unless the detector is thread-safe."""
        if self.detector is None:
            raise HeatmarkError("no detector configured: pass boxes=... or create Landmarker(detector='mtcnn')")
        if getattr(self.detector, "thread_safe", False):
            return fn(rgb)
        with self._detector_lock:
            return fn(rgb)

    # ------------------------------------------------------------------ public
    def detect(self, image, color: str = "rgb") -> tuple[np.ndarray, np.ndarray]:
        return self._run_detector(self.detector, as_rgb(image, color))

    def predict(self, image: str | Path | np.ndarray, boxes: list | np.ndarray | None = None,
                color: str = "rgb") -> list[Face]:
        """Landmarks of every face in ``image``.

        Args:
            image: a path (EXIF orientation applied), an RGB array (H, W, 3) (grey and RGBA arrays too), or a PIL
                image.
            boxes: face boxes [[x1, y1, x2, y2], ...] in image pixels; None runs the detector.
            color: ``"rgb"`` or ``"bgr"`` (OpenCV frames) for arrays.

        Returns:
            One :class:`Face` per detected face (or per given box), landmarks in the image's pixels.

        Raises:
            HeatmarkError: bad boxes (not 4 numbers, NaN/Inf, empty, outside the image, absurdly large), or no
                detector and no boxes.
            DataError: an unreadable image file (named in the message).
        """
        rgb = as_rgb(image, color)
        det_scores, rolls = None, None
        if boxes is None:
            boxes, det_scores, crop_boxes, rolls = self.detect_crops(rgb)
        else:
            boxes = check_boxes(boxes, rgb.shape[1], rgb.shape[0])
            crop_boxes = [crop_box_from_detection(b, None, self.box_scale) for b in boxes]
        pts, scores = self.predict_boxes(rgb, crop_boxes, rolls)
        return [Face(np.asarray(b, np.float32), pts[i].astype(np.float32), scores[i].astype(np.float32),
                     None if det_scores is None else float(det_scores[i])) for i, b in enumerate(boxes)]

    def predict_batch(self, images, boxes=None, color: str = "rgb") -> list[list[Face]]:
        """:meth:`predict` for many images (``boxes``: one list of boxes per image, or None)."""
        boxes = boxes if boxes is not None else [None] * len(images)
        return [self.predict(im, b, color) for im, b in zip(images, boxes)]

    def track(self, image, previous: np.ndarray, color: str = "rgb") -> tuple[np.ndarray, np.ndarray]:
        """Landmarks in a new frame from the previous frame's landmarks (no detection)."""
        rgb = as_rgb(image, color)
        pts, scores = self.predict_boxes(rgb, [box_from_landmarks(previous, self.box_scale, expand=self.scheme.box_expand)])
        return pts[0], scores[0]
