"""Helpers of the trainer: the run folder's state (an existing run, a changed config), EMA, the git commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import torch

from heatmark.errors import ConfigError


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
