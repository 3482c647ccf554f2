"""Helpers of the trainer: the run folder's state (an existing run, a changed config), EMA, the git commit, the
learning-rate schedule, the starting weights of ``model.init``."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import torch

from heatmark.checkpoint import load_tensors, model_state, weights_digest
from heatmark.errors import ConfigError


def warmup_cosine(warm: int, floor: float, total: int):
    """The learning-rate factor at each step: linear warm-up over ``warm`` steps, then a cosine from 1 down to
    ``floor`` at step ``total``."""

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        t = min(1.0, (step - warm) / max(1, total - warm))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

    return lr_at


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


class EMA:
    """Exponential moving average of a model's parameters and buffers."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(self.decay).add_(v.detach(), alpha=1 - self.decay)
            else:
                self.shadow[k].copy_(v)


RUNTIME_KEYS = {"data.workers", "data.cache_dir"}  # may change between a run and its resume


def refuse_existing_run(out: Path) -> None:
    """A fresh start must not overwrite a run: refuse a folder with checkpoints or a training log."""
    found = [n for n in ("last.safetensors", "final.safetensors", "best.safetensors", "metrics.jsonl")
             if (out / n).is_file() and (out / n).stat().st_size > 0]
    if found:
        raise ConfigError(f"{out} already holds a run ({', '.join(found)}); continue it with --resume, write to "
                          "another --out, or pass --force to start over in this folder (its files are replaced)")


def config_changes(old: dict, new: dict, prefix: str = "") -> list[str]:
    """'key: old -> new' for every leaf that differs (runtime-only keys ignored)."""
    out = []
    for k in sorted(set(old) | set(new)):
        key = f"{prefix}{k}"
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_changes(a, b, key + ".")
        elif a != b and key not in RUNTIME_KEYS:
            out.append(f"{key}: {a!r} -> {b!r}")
    return out


def init_weights(model: torch.nn.Module, init: str, partial: bool = False, narrow: bool = False) -> dict:
    """Load the weights of ``init`` (config ``model.init``: a shipped model's name or a ``.safetensors`` file of the
    same network) into ``model``; returns the file and its weights' SHA-256
    (:func:`heatmark.checkpoint.weights_digest`). Every parameter and buffer must match by name and shape, unless
    ``partial`` (config ``model.init_partial``): then the tensors that match are loaded, the others keep their
    random initialisation, and the record lists them (``reinitialised``; ``unused``: the file's leftovers). ``narrow``
    (config ``model.init_narrow``): a U-Net decoder narrower than the file's keeps the file's most important channels
    (:func:`heatmark.models.narrow.narrow_state`; the record lists the sliced tensors under ``narrowed``)."""
    from heatmark.shipped import training_weights

    path = training_weights(init, "model.init")
    tensors, _ = load_tensors(path)
    state = model_state(tensors)
    narrowed = None
    if narrow:
        from heatmark.models.narrow import narrow_state

        state, narrowed = narrow_state(state, model)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = [k for k, v in own.items() if k in state and state[k].shape != v.shape]
    shapes = [f"{k} {tuple(state[k].shape)} (model {tuple(own[k].shape)})" for k in mismatched]
    record = {"weights": str(path), "sha256": weights_digest(tensors), **({"narrowed": narrowed} if narrow else {})}
    if partial:
        fits = {k: v for k, v in state.items() if k in own and k not in mismatched}
        if not fits:
            raise ConfigError(f"model.init: no tensor of {path} fits this config's network (model.init_partial "
                              "loads those that match by name and shape); check the backbone and head")
        model.load_state_dict(fits, strict=False)
        return {**record, "reinitialised": sorted(missing + mismatched),
                "unused": sorted(unexpected + mismatched)}
    if missing or unexpected or shapes:
        what = ([f"missing {', '.join(missing[:3])}"] if missing else []) + \
               ([f"unexpected {', '.join(unexpected[:3])}"] if unexpected else []) + shapes[:3]
        raise ConfigError(f"model.init: {path} does not fit this config's network ({'; '.join(what)}); give "
                          "weights of the same head, backbone, options, points and input channels, or set "
                          "model.init_partial: true to load only the tensors that fit")
    model.load_state_dict(state)  # float16 shipped parameters are copied into the float32 network
    return record


def describe_init(record: dict) -> str:
    """The log line of :func:`init_weights`' record: the file, and the tensors left random (``init_partial``) or
    narrowed (``init_narrow``)."""
    fresh, cut = record.get("reinitialised"), record.get("narrowed")
    return (f"initialised from {record['weights']}" + (f"; random: {fresh}" if fresh else "")
            + (f"; {len(cut)} decoder tensors narrowed" if cut else ""))
