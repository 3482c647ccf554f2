"""Knowledge distillation from a frozen heatmap teacher into any student.

Config ``distill: {teacher: NAME_OR_FILE, weight: 0.5}``. The teacher is a shipped model's name or a heatmap
run's ``.safetensors`` with the student's landmark scheme, input channels and crop framing (``data.box_scale``).
It sees the student's augmented batch and teaches in one of two ways:

- **heatmaps** (a heatmap student with the teacher's input size and heatmap size): the student trains against
  ``(1 - weight) · label Gaussians + weight · teacher heatmaps (clipped to [0, 1])``;
- **points** (every other student: a pip or regression head, or another input size): the teacher's decoded
  landmarks (the batch resized to its input size, its own decoder, no label-bias offset) become a second label,
  encoded by the student's codec: ``loss = (1 - weight) · loss(label) + weight · loss(teacher's landmarks)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from heatmark.errors import ConfigError


@dataclass
class Teacher:
    model: torch.nn.Module
    weight: float
    path: Path
    codec: object  # the teacher's HeatmapCodec (its input size and decoder)
    mode: str  # "heatmaps" or "points" (see the module docstring)

    def mix(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Heatmap mode: the distillation targets for input ``x`` and label heatmaps ``target`` (B, K, h, w)."""
        with torch.no_grad():
            return (1 - self.weight) * target + self.weight * self.model(x).float().clamp(0, 1)

    def points(self, x: torch.Tensor) -> torch.Tensor:
        """Points mode: the teacher's landmarks (B, K, 2) for crops ``x`` (B, C, S, S), in the student's crop
        pixels ``S`` (the crops are resized to the teacher's input size and the points scaled back)."""
        size, t = x.shape[-1], self.codec.input_size
        with torch.no_grad():
            xt = x if size == t else F.interpolate(x.float(), size=(t, t), mode="bilinear", align_corners=False,
                                                   antialias=size > t)
            pts, _ = self.codec.decode(self.model(xt).float())
        return pts * (size / t)


def load_teacher(cfg: dict, student_cfg: dict, scheme, codec, device: torch.device) -> Teacher:
    """The teacher of ``cfg`` (the ``distill`` section), checked against the student (its run config
    ``student_cfg``, landmark ``scheme`` and ``codec``) and frozen on ``device``."""
    from heatmark.checkpoint import load_model
    from heatmark.shipped import training_weights

    path = training_weights(cfg["teacher"], "distill.teacher")
    model, tcodec, tscheme, meta = load_model(path, expect={"head": "heatmap"})
    checks = [("scheme", tscheme.name, scheme.name), ("points", tscheme.num_points, scheme.num_points),
              ("input channels", meta.get("model", {}).get("in_channels", 3),
               student_cfg["model"].get("in_channels", 3))]
    if "box_scale" in meta:  # the same framing of the face in the crop
        checks.append(("data.box_scale", float(meta["box_scale"]), float(student_cfg["data"]["box_scale"])))
    problems = [f"{what} {got} (student {want})" for what, got, want in checks if got != want]
    if problems:
        raise ConfigError(f"distill.teacher: {path} does not fit the student: {'; '.join(problems)}; train the "
                          "student with the teacher's scheme, channels and data.box_scale, or pick another teacher")
    same_maps = (codec.kind == "heatmap" and tcodec.input_size == codec.input_size
                 and tcodec.heatmap_size == codec.heatmap_size)
    for p in model.parameters():
        p.requires_grad_(False)
    model.to(device).eval()
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return Teacher(model, float(cfg.get("weight", 0.5)), path, tcodec, "heatmaps" if same_maps else "points")
