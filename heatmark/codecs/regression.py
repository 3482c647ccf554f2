"""Coordinate codec for regression heads: input pixels ↔ coordinates normalised to the crop."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class RegressionCodec:
    """Normalised coordinate u = p / input_size, so the crop spans [0, 1] on each axis.

    ``pixel_scale`` (= input_size) converts a normalised error back to pixels; losses with parameters
    in pixels (Wing, Soft-Wing) need it."""

    input_size: int = 128
    point_offset: list | None = None  # as HeatmapCodec.point_offset
    kind = "regression"

    @property
    def pixel_scale(self) -> float:
        return float(self.input_size)

    def encode(self, points: torch.Tensor, visible: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        w = torch.ones(points.shape[:-1], dtype=points.dtype, device=points.device)
        if visible is not None:
            w = w * (visible > 0).to(points.dtype)
        return points / self.input_size, w

    def decode(self, output: torch.Tensor, method: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, K, 2) normalised → (B, K, 2) pixels; the score is 1 (a regressor gives no confidence)."""
        return output * self.input_size, torch.ones(output.shape[:-1], dtype=output.dtype, device=output.device)
