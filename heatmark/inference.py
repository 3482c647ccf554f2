"""The one inference component: face crops → network → decoded points, for a batch of crops.

``Landmarker`` (photos, detector or user boxes) and the evaluation pipeline (annotated data sets) both run
their crops through :class:`CropPredictor`, so ``heatmark eval`` measures exactly what users get: the same
backend (torch or onnxruntime, each owned here), the same input normalisation, the same decoder and the same
flip test-time augmentation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from heatmark.codecs.tta import decode_flip_tta
from heatmark.errors import HeatmarkError

BACKENDS = ("torch", "onnx")


def crops_to_tensor(crops: np.ndarray) -> torch.Tensor:
    """(N, S, S, 3) uint8 RGB crops → (N, 3, S, S) float32 in [0, 1]: the network's input normalisation."""
    return torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255.0)


class CropPredictor:
    """Points (N, K, 2) in crop pixels and scores (N, K) for crops of ``input_size``².

    backend: ``"torch"`` (``device`` cpu/cuda) or ``"onnx"`` (onnxruntime on the CPU; the model is exported
    once to ``onnx_path`` or a cache file). flip: horizontal-flip test-time augmentation. decoder: a heatmap
    decoder name overriding the codec's.
    """

    def __init__(self, model: torch.nn.Module, codec, scheme, input_size: int, backend: str = "torch",
                 device: str | torch.device = "cpu", flip: bool = False, decoder: str | None = None,
                 onnx_path: str | Path | None = None):
        if backend not in BACKENDS:
            raise HeatmarkError(f"backend must be 'torch' or 'onnx', got {backend!r}")
        self.model, self.codec, self.scheme = model.eval(), codec, scheme
        self.input_size, self.backend = int(input_size), backend
        self.device = torch.device(device)
        self.flip, self.decoder = flip, decoder
        self._ort = None
        if backend == "onnx":
            from heatmark.export import onnx_session

            self.model.cpu()
            self.device = torch.device("cpu")
            self._ort = onnx_session(self.model, self.input_size, onnx_path)
        else:
            self.model.to(self.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The raw network output (heatmaps or coordinates) for a float batch, on the CPU in float32."""
        if self._ort is not None:
            return torch.from_numpy(self._ort.run(None, {"image": x.cpu().numpy()})[0])
        with torch.inference_mode():
            x = x.to(self.device)
            if x.is_cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            return self.model(x).float().cpu()

    def __call__(self, x: torch.Tensor, flip: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Float crops (N, 3, S, S) in [0, 1] → points (N, K, 2) float64 in crop pixels, scores (N, K).
        ``flip``: flip test-time augmentation for this call (None: the predictor's setting)."""
        with torch.inference_mode():
            if self.flip if flip is None else flip:
                pts, scores = decode_flip_tta(self.forward, self.codec, x, self.scheme.flip_index, self.decoder)
            else:
                pts, scores = self.codec.decode(self.forward(x), self.decoder)
        pts = pts.double().numpy()
        offset = getattr(self.codec, "point_offset", None)
        return (pts if offset is None else pts + np.asarray(offset, np.float64)), scores.numpy()

    def run_crops(self, crops: np.ndarray, flip: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(N, S, S, 3) uint8 crops → points (N, K, 2) in crop pixels, scores (N, K); ``flip`` as in
        :meth:`__call__`."""
        x = crops_to_tensor(crops)
        if self._ort is not None and len(x) <= 4:
            # a few faces through onnxruntime: decode them on one torch thread. Waking torch's thread pool for
            # such small tensors costs more than it saves, and its threads then spin against onnxruntime's
            # (landmark stage at batch 1: 3.0 ms instead of 3.7-5.2 ms on the 2-core CPU).
            n = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return self(x, flip)
            finally:
                torch.set_num_threads(n)
        return self(x, flip)
