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
from heatmark.onnx_graph import static_resizes


def export_onnx(model: torch.nn.Module, input_size: int, path: str | Path, opset: int = 17,
                meta: dict | None = None) -> Path:
    """Write ``model`` as ONNX with a dynamic batch axis (input ``image`` (B, 3, S, S), output ``output``).
    ``meta`` (the weights file's description) is stored in the model's metadata under ``heatmark``, so that
    ``Landmarker("model.onnx")`` runs it without torch. Resizes get constant scale factors for the fixed input
    size (:func:`heatmark.onnx_graph.static_resizes`)."""
    path = Path(path)
    model = model.eval().cpu()
    x = torch.rand(1, 3, input_size, input_size)
    try:
        with atomic_path(path) as tmp:
            torch.onnx.export(model, (x,), str(tmp), input_names=["image"], output_names=["output"],
                              dynamic_axes={"image": {0: "batch"}, "output": {0: "batch"}}, opset_version=opset,
                              dynamo=False)
            if meta is not None:
                import json

                import onnx

                m = onnx.load(str(tmp))
                entry = m.metadata_props.add()
                entry.key, entry.value = "heatmark", json.dumps(meta, default=str)
                onnx.save(m, str(tmp))
            static_resizes(tmp, input_size)
    except ImportError as e:
        raise HeatmarkError(f"ONNX export needs the onnx package (pip install 'heatmark[onnx]'): {e}") from None
    return path


def onnx_session(model: torch.nn.Module, input_size: int, path: str | Path | None = None, threads: int | None = None):
    """An onnxruntime CPU session for ``model``; exported to ``path`` (or a cache file keyed by the
    weights) when that file does not exist yet."""
    from heatmark.onnx_runtime import open_session

    if path is None:
        path = cached_onnx_path(model, input_size)
    path = Path(path)
    if not path.is_file():
        export_onnx(model, input_size, path)
    return open_session(path, threads)


def cached_onnx_path(model: torch.nn.Module, input_size: int) -> Path:
    """The user-cache file for ``model``'s ONNX export, keyed by its weights and input size."""
    h = hashlib.sha1()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().numpy().tobytes())
    h.update(str(input_size).encode())
    cache = Path(os.environ.get("HEATMARK_CACHE", Path.home() / ".cache" / "heatmark")) / "onnx"
    return cache / f"{h.hexdigest()[:16]}.onnx"
