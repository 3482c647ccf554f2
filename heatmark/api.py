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
from typing import Any

import numpy as np

from heatmark.data.crops import SquareBox, box_from_landmarks, crop_matrix, invert, transform_points, warp_batch
from heatmark.data.image_io import read_image, to_rgb_uint8
from heatmark.detect import check_boxes, crop_box_from_detection, get_detector, roll_from_keypoints
from heatmark.errors import DataError, HeatmarkError
from heatmark.refine import refine_passes, refinement_boxes, refinement_rolls
from heatmark.shipped import (  # noqa: F401 - re-exported: heatmark.api has always offered these names
    ALIASES,
    WEIGHTS_DIR,
    default_weights,
    resolve_adapter,
    resolve_weights,
    shadowed_name,
    shipped_cards,
    shipped_models,
    shipped_onnx,
)


def _onnxruntime_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


ImageLike = str | Path | np.ndarray  # a path, an RGB/BGR/grey/RGBA array, or a PIL image

UPRIGHT_DEFAULT = True  # chosen by measurement on AFW with MTCNN boxes (docs/in-depth.md, "Face detection")

@dataclass
class Face:
    """One face found in an image.

    Attributes:
        box: (4,) x1, y1, x2, y2 in image pixels: the detector's box, or the one you passed.
        landmarks: (K, 2) points in the image's pixels (continuous coordinates, origin at the top-left corner of
            the top-left pixel), in the model's scheme (68 iBUG points for the shipped models).
        scores: (K,) per-point confidence (the heatmap peak; 1 for regression models).
        detection_score: the detector's score, or None for your own boxes.

    Examples:
        >>> face = Landmarker().predict("photo.jpg")[0]
        >>> left_eye = face.landmarks[36:42].mean(0)   # (x, y) in the photo's pixels
    """

    box: np.ndarray
    landmarks: np.ndarray
    scores: np.ndarray
    detection_score: float | None = None

    def to_dict(self) -> dict:
        """The face as plain JSON-ready lists (what ``heatmark predict`` writes).

        Returns:
            A dict with ``box`` ([x1, y1, x2, y2]), ``landmarks`` ([[x, y], ...]), ``scores`` and
            ``detection_score`` (a float or None), rounded to 0.01 px (box), 0.001 px (points) and 4 digits.

        Examples:
            >>> json.dumps([f.to_dict() for f in Landmarker().predict("photo.jpg")])
        """
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
            (used when None), ``"fast"`` or ``"synthetic"`` (``"mixing"``, an earlier release's name, means
            ``"default"``). A shipped name wins over a local path of that name.
        detector: ``"mtcnn"`` (default; shipped, onnxruntime; ``"mtcnn:48"`` skips faces under 48 px, faster),
            ``"opencv"`` (Haar cascade: faster, finds fewer faces), ``"dlib"``, a callable
            ``rgb -> (boxes (N, 4), scores (N,))``, or
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
        refine: extra passes per face (0-5), each on the crop cut around the previous pass's landmarks (the box
            the model was trained on), so the result depends less on the face box. Each pass costs one more
            network run per face; with ``flip``, only the last pass is flipped. None: 1 with the ``"dlib"`` and
            ``"opencv"`` detectors, whose boxes fit faces loosely, else 0 (measured on AFW:
            docs/results/refine). Loose boxes of your own gain from ``refine=1`` too.

    Raises:
        HeatmarkError: an unknown shipped name, a backend other than torch/onnx.
        DataError: a weights or adapter file that is missing or unreadable (named in the message).

    Examples:
        >>> import heatmark
        >>> lm = heatmark.Landmarker()
        >>> faces = lm.predict("photo.jpg")
        >>> faces[0].landmarks.shape
        (68, 2)
    """

    def __init__(self, weights: str | Path | None = None, detector: str | Callable | None = "mtcnn",
                 device: str = "cpu", backend: str = "auto", flip: bool = False, decoder: str | None = None,
                 onnx_path: str | Path | None = None,
                 adapter: str | Path | None = None, upright: bool = UPRIGHT_DEFAULT,
                 refine: int | None = None):
        self.weights = resolve_weights(weights)
        self.flip, self.decoder, self.upright = flip, decoder, upright
        self.refine = refine_passes(refine, detector)
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
    def from_pretrained(cls, path: str | Path, **kw: Any) -> Landmarker:
        """``Landmarker(weights=path, **kw)``, the spelling other libraries use.

        Args:
            path: a weights file or a shipped model's name (as ``weights``).
            **kw: any other :class:`Landmarker` argument.

        Returns:
            The landmarker.

        Examples:
            >>> lm = Landmarker.from_pretrained("runs/mine/final.safetensors", detector="opencv")
        """
        return cls(weights=path, **kw)

    @property
    def detector(self):
        """The face detector, built on first use (a callable ``rgb -> (boxes (N, 4), scores (N,))``), or None
        when the landmarker was made with ``detector=None``."""
        if self._detector is None and self._detector_spec is not None:
            self._detector = get_detector(self._detector_spec)
        return self._detector

    # ------------------------------------------------------------------ network
    def run_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network and decoder alone, on crops already cut to the model's input.

        Args:
            crops: (N, S, S, 3) uint8 RGB crops, S = ``input_size``.

        Returns:
            Points (N, K, 2) in crop pixels (continuous coordinates) and scores (N, K).

        Examples:
            >>> pts, scores = lm.run_crops(np.zeros((2, lm.input_size, lm.input_size, 3), np.uint8))
        """
        return self.predictor.run_crops(crops)

    def predict_boxes(self, rgb: np.ndarray, crop_boxes: list[SquareBox], rolls: np.ndarray | None = None,
                      refine: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks for square crop boxes of one image, all faces in one network batch.

        Args:
            rgb: the image, RGB uint8 (H, W, 3).
            crop_boxes: the model's square crops (:class:`heatmark.data.crops.SquareBox`: centre and side in
                image pixels), e.g. from :meth:`detect_crops`.
            rolls: each face's in-plane rotation in degrees (its crop is turned upright by it); None: 0.
            refine: refinement passes after the first (0 to 5); None: the Landmarker's ``refine``.

        Returns:
            Points (N, K, 2) in the image's pixels (after the ``refine`` passes; adapter applied, if any) and
            scores (N, K).

        Examples:
            >>> boxes, scores, crops, rolls = lm.detect_crops(rgb)
            >>> pts, point_scores = lm.predict_boxes(rgb, crops, rolls)
        """
        if not crop_boxes:
            k = self.scheme.num_points
            return np.zeros((0, k, 2)), np.zeros((0, k))
        passes = self.refine if refine is None else refine_passes(refine)
        rolls = np.zeros(len(crop_boxes)) if rolls is None else np.asarray(rolls, np.float64)
        pts, scores = self._pass(rgb, crop_boxes, rolls, self.flip and not passes)
        rolls = refinement_rolls(rolls) if passes else rolls
        for i in range(passes):  # the crop the model was trained on, from the last pass's points
            crop_boxes = refinement_boxes(pts, rolls, self.box_scale, self.scheme.box_expand)
            pts, scores = self._pass(rgb, crop_boxes, rolls, self.flip and i == passes - 1)
        return (self.adapter(pts) if self.adapter is not None else pts), scores

    def _pass(self, rgb: np.ndarray, crop_boxes: list[SquareBox], rolls: np.ndarray,
              flip: bool) -> tuple[np.ndarray, np.ndarray]:
        """One network pass: the crops cut, run as one batch, points mapped back to the image's pixels."""
        mats = np.stack([crop_matrix(b, self.input_size, float(r)) for b, r in zip(crop_boxes, rolls)])
        crops = warp_batch(rgb, mats, self.input_size)
        pts, scores = self.predictor.run_crops(crops, flip)
        return transform_points(invert(mats), pts), scores

    def detect_crops(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[SquareBox], np.ndarray]:
        """Faces found by the detector, with the crop the model expects for each.

        Args:
            rgb: the image, RGB uint8 (H, W, 3).

        Returns:
            Detector boxes (N, 4) x1 y1 x2 y2 in image pixels, their scores (N,), the model's square crop for each
            (through the detector's box calibration) and each face's roll in degrees (from the detector's eye
            points when it gives them and ``upright`` is on, as MTCNN does; else 0).

        Raises:
            HeatmarkError: the landmarker has no detector.

        Examples:
            >>> boxes, scores, crops, rolls = Landmarker().detect_crops(rgb)
        """
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
    def detect(self, image: ImageLike, color: str = "rgb") -> tuple[np.ndarray, np.ndarray]:
        """Face boxes only (no landmarks).

        Args:
            image: a path, an RGB (or ``color="bgr"``) array, or a PIL image, as in :meth:`predict`.
            color: ``"rgb"`` or ``"bgr"`` for arrays.

        Returns:
            Boxes (N, 4) x1 y1 x2 y2 in image pixels and scores (N,); empty arrays when no face is found.

        Raises:
            HeatmarkError: the landmarker has no detector.
            DataError: an unreadable image file.

        Examples:
            >>> boxes, scores = Landmarker().detect("group.jpg")
        """
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
            A list with one ``Face`` per detected face (or per given box), landmarks in the image's pixels.

        Raises:
            HeatmarkError: bad boxes (not 4 numbers, NaN/Inf, empty, outside the image, absurdly large), or no
                detector and no boxes.
            DataError: an unreadable image file (named in the message).

        Examples:
            >>> lm = Landmarker()
            >>> for face in lm.predict("group.jpg"):
            ...     print(face.box, face.landmarks[30])          # nose tip, image pixels
            >>> lm.predict(frame_bgr, boxes=[[80, 60, 240, 220]], color="bgr")
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

    def predict_batch(self, images: list[ImageLike], boxes: list | None = None,
                      color: str = "rgb") -> list[list[Face]]:
        """:meth:`predict` for many images.

        Args:
            images: paths, arrays or PIL images.
            boxes: one list of boxes per image (None in the list: detect in that image), or None: detect in all.
            color: ``"rgb"`` or ``"bgr"`` for arrays.

        Returns:
            A list per image, in order, of ``Face`` objects.

        Raises:
            HeatmarkError, DataError: as :meth:`predict`, naming the image.

        Examples:
            >>> per_image = Landmarker().predict_batch(["a.jpg", "b.jpg"])
        """
        boxes = boxes if boxes is not None else [None] * len(images)
        return [self.predict(im, b, color) for im, b in zip(images, boxes)]

    def track(self, image: ImageLike, previous: np.ndarray, color: str = "rgb") -> tuple[np.ndarray, np.ndarray]:
        """Landmarks in a new video frame from the previous frame's landmarks (no detection): the crop is the box
        of ``previous``, as ``heatmark video`` tracks between detections. One pass whatever ``refine`` says: the
        crop is already cut around landmarks, as a refinement pass's is.

        Args:
            image: the new frame (path, array or PIL image).
            previous: (K, 2) landmarks of the same face in the previous frame, image pixels.
            color: ``"rgb"`` or ``"bgr"`` (OpenCV frames) for arrays.

        Returns:
            Points (K, 2) in the new frame's pixels and scores (K,); low scores mean the face was lost.

        Examples:
            >>> pts = lm.predict(frame0, color="bgr")[0].landmarks
            >>> pts, scores = lm.track(frame1, pts, color="bgr")
        """
        rgb = as_rgb(image, color)
        box = box_from_landmarks(previous, self.box_scale, expand=self.scheme.box_expand)
        pts, scores = self.predict_boxes(rgb, [box], refine=0)
        return pts[0], scores[0]
