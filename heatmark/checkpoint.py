"""Saving and loading models as safetensors. No pickle: nothing in a weights file can run code.

A heatmark weights file is self-contained: the tensors plus, in the safetensors metadata under the key
``heatmark``, a JSON description (model config, codec, scheme, input size, metrics, ...) from which
:func:`load_model` rebuilds the network. A ``.json`` sidecar with the same description is written beside it
for people to read. Files are written to a temporary name and renamed, so a crash never leaves a
half-written file under the real name.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from heatmark.atomic import atomic_path, atomic_write
from heatmark.errors import DataError, HeatmarkError

FORMAT = "heatmark-1"


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Write ``tensors`` + ``meta`` atomically to ``path`` (safetensors) and ``path.json`` (readable copy)."""
    path = Path(path)
    meta = {"format": FORMAT, **meta}
    clean = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path, fsync=True) as tmp:
        save_file(clean, str(tmp), metadata={"heatmark": json.dumps(meta)})
        if os.environ.get("HEATMARK_FAULT_SLOW_SAVE"):  # fault injection for tests: a window to kill mid-write
            import time

            time.sleep(float(os.environ["HEATMARK_FAULT_SLOW_SAVE"]))
    atomic_write(path.with_suffix(".json"), json.dumps(meta, indent=1, default=str))


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "weights file not found")
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            raw = (f.metadata() or {}).get("heatmark")
    except (SafetensorError, OSError, ValueError) as e:
        raise DataError(path, f"not a readable safetensors file ({e})",
                        "was it cut short? use the previous checkpoint or retrain") from None
    if raw is None:
        raise DataError(path, "safetensors file has no heatmark metadata", "save weights with heatmark")
    return tensors, json.loads(raw)


def model_state(tensors: dict[str, torch.Tensor], prefix: str = "model.") -> dict[str, torch.Tensor]:
    """The network's state dict inside a weights file's tensors (the names under ``prefix``, prefix removed)."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def weights_digest(tensors: dict[str, torch.Tensor], prefix: str = "model.") -> str:
    """SHA-256 of a model's tensors (names, dtypes, shapes, bytes; those under ``prefix``): the same weights give
    the same digest whatever metadata their file carries. The names are hashed as the file stores them (prefix
    included): checkpoints and cards record these digests, so the recipe must not change (a test pins it)."""
    h = hashlib.sha256()
    for k in sorted(k for k in tensors if k.startswith(prefix)):
        t = tensors[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def model_meta(model: torch.nn.Module, codec, scheme, input_size: int, box_scale: float, **extra) -> dict:
    return {"model": model.config, "codec": codec.__dict__ | {"kind": codec.kind}, "scheme": scheme.to_dict(),
            "input_size": int(input_size), "box_scale": float(box_scale), **extra}


def save_model(path: str | Path, model: torch.nn.Module, meta: dict) -> None:
    save_tensors(path, {f"model.{k}": v for k, v in model.state_dict().items()}, meta)


def half_parameters(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating-point parameters as float16 (half the file); BatchNorm statistics and integer tensors stay as
    they are. :func:`load_model` casts back to float32."""
    return {k: (v.half() if v.is_floating_point() and "running_" not in k else v) for k, v in tensors.items()}


def build_from_meta(meta: dict, path: Path | None = None):
    """(model, codec, scheme) from a weights file's description."""
    from heatmark.codecs import create_codec
    from heatmark.data.schemes import Scheme
    from heatmark.models import create_model

    try:
        mcfg = dict(meta["model"])
        codec_cfg = {k: v for k, v in meta["codec"].items() if k not in ("kind", "input_size")}
        head = mcfg.pop("head")
        model = create_model(head, mcfg.pop("backbone"), mcfg.pop("num_points"), **mcfg)
        codec = create_codec(head, int(meta["input_size"]), **codec_cfg)
        scheme = Scheme.from_dict(meta["scheme"], source=str(path))
    except (KeyError, TypeError) as e:
        raise DataError(path, f"weights description is incomplete ({e})") from None
    return model, codec, scheme


def load_model(path: str | Path, expect: dict | None = None, prefix: str = "model."):
    """Load (model, codec, scheme, meta). ``expect`` (e.g. ``{"num_points": 68, "head": "heatmap"}``) is
    checked against the file; a mismatch says which was expected and which was found."""
    path = Path(path)
    tensors, meta = load_tensors(path)
    for k, v in (expect or {}).items():
        found = meta.get("model", {}).get(k)
        if found != v:
            raise HeatmarkError(f"{path}: expected a model with {k}={v!r}, found {k}={found!r}")
    model, codec, scheme = build_from_meta(meta, path)
    state = model_state(tensors, prefix)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        cfg = meta.get("model")
        raise HeatmarkError(f"{path}: weights do not fit the architecture it describes ({cfg}): "
                            f"{str(e).splitlines()[0]}") from None
    model.eval()
    return model, codec, scheme, meta
