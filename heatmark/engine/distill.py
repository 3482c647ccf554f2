"""Knowledge distillation: a frozen heatmap teacher whose heatmaps are mixed into a student's targets.

Config ``distill: {teacher: NAME_OR_FILE, weight: 0.5}``: the student trains against
``(1 - weight) · label Gaussians + weight · teacher heatmaps (clipped to [0, 1])``. The teacher is a shipped
model's name or a run's ``.safetensors``, with the student's landmark scheme, input size and heatmap size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from heatmark.errors import ConfigError


@dataclass
class Teacher:
    model: torch.nn.Module
    weight: float
    path: Path

    def mix(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The distillation targets for input ``x`` and label heatmaps ``target`` (B, K, h, w)."""
        with torch.no_grad():
            return (1 - self.weight) * target + self.weight * self.model(x).float().clamp(0, 1)


def load_teacher(cfg: dict, scheme, input_size: int, codec, device: torch.device) -> Teacher:
    """The teacher of ``cfg`` (the ``distill`` section), checked against the student and frozen on ``device``."""
    from heatmark.checkpoint import load_model
    from heatmark.shipped import resolve_weights

    path = resolve_weights(cfg["teacher"])
    if path.suffix != ".safetensors":
        raise ConfigError(f"distill.teacher: {path} is not a .safetensors weights file; give a shipped model's "
                          "name or a heatmark training run's final.safetensors")
    if not path.is_file():
        raise ConfigError(f"distill.teacher: {path} not found; give a shipped model's name or the path of a "
                          "heatmark training run's final.safetensors")
    model, tcodec, tscheme, _ = load_model(path, expect={"head": "heatmap"})
    problems = [f"{what} {got} (student {want})" for what, got, want in (
        ("scheme", tscheme.name, scheme.name), ("points", tscheme.num_points, scheme.num_points),
        ("input size", tcodec.input_size, input_size),
        ("heatmap size", tcodec.heatmap_size, codec.heatmap_size)) if got != want]
    if problems:
        raise ConfigError(f"distill.teacher: {path} does not fit the student: {'; '.join(problems)}; train the "
                          "student with the teacher's scheme, data.input_size and codec.stride")
    for p in model.parameters():
        p.requires_grad_(False)
    model.to(device).eval()
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return Teacher(model, float(cfg.get("weight", 0.5)), path)
