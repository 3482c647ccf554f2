"""ONNX export of a landmark network (image in [0, 1] → heatmaps or coordinates) and an onnxruntime session.

Decoding stays in heatmark's codecs, so the torch and onnxruntime backends share it exactly.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from heatmark.atomic import atomic_path
from heatmark.errors import HeatmarkError


def export_onnx(model: torch.nn.Module, input_size: int, path: str | Path, opset: int = 17) -> Path:
    """Write ``model`` as ONNX with a dynamic batch axis (input ``image`` (B, 3, S, S), output ``output``)."""
    path = Path(path)
    model = model.eval().cpu()
    x = torch.rand(1, 3, input_size, input_size)
    try:
        with atomic_path(path) as tmp:
            torch.onnx.export(model, (x,), str(tmp), input_names=["image"], output_names=["output"],
                              dynamic_axes={"image": {0: "batch"}, "output": {0: "batch"}}, opset_version=opset,
                              dynamo=False)
    except ImportError as e:
        raise HeatmarkError(f"ONNX export needs the onnx package (pip install 'heatmark[onnx]'): {e}") from None
    return path


def onnx_session(model: torch.nn.Module, input_size: int, path: str | Path | None = None, threads: int | None = None):
    """An onnxruntime CPU session for ``model``; exported to ``path`` (or a cache file keyed by the
    weights) when that file does not exist yet."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise HeatmarkError("backend='onnx' needs onnxruntime (pip install 'heatmark[onnx]')") from None
    if path is None:
        h = hashlib.sha1()
        for k, v in model.state_dict().items():
            h.update(k.encode())
            h.update(v.detach().cpu().numpy().tobytes())
        h.update(str(input_size).encode())
        cache = Path(os.environ.get("HEATMARK_CACHE", Path.home() / ".cache" / "heatmark")) / "onnx"
        path = cache / f"{h.hexdigest()[:16]}.onnx"
    path = Path(path)
    if not path.is_file():
        export_onnx(model, input_size, path)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or os.cpu_count() or 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # no busy-waiting after a run: spinning ORT threads starve the torch decode that follows (8 ms vs 2.3 ms)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
