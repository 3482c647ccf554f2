"""Pixel-in-pixel codec: points ↔ a score per grid cell plus per-cell offsets (see :mod:`heatmark.models.pip`).

Grid coordinate = input coordinate / stride in heatmark's continuous convention (cell ``j`` spans [j, j + 1),
its centre is j + 0.5). Target layout (B, 3K, h, w): K score maps (1 in the cell holding the point, 0
elsewhere), then for every cell the point's x offset from that cell's centre (K maps, in cells), then the y
offsets. The loss (:class:`heatmark.losses.PipLoss`) supervises the offsets near the point only; decoding
reads them at the best-scoring cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from heatmark.codecs.numpy_decoders import check_pip_decoder
from heatmark.errors import ConfigError

STRIDES = (8, 16, 32)


@dataclass
class PipCodec:
    input_size: int = 128
    stride: int = 16
    point_offset: list | None = None  # as HeatmapCodec.point_offset: added by the predictors after decoding
    kind = "pip"

    def __post_init__(self) -> None:
        if self.stride not in STRIDES or self.input_size % self.stride:
            raise ConfigError(f"pip codec stride must be one of {STRIDES} and divide the input size "
                              f"({self.input_size}); got {self.stride}")

    @property
    def grid_size(self) -> int:
        return self.input_size // self.stride

    def encode(self, points: torch.Tensor, visible: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """points (B, K, 2) input pixels → targets (B, 3K, h, h), weights (B, K) (0: not visible or outside)."""
        b, k, _ = points.shape
        h = self.grid_size
        c = points / self.stride
        inside = ((c >= 0) & (c < h)).all(-1)
        cell = c.floor().clamp(0, h - 1).long()
        scores = torch.zeros(b, k, h * h, dtype=points.dtype, device=points.device)
        scores.scatter_(2, (cell[..., 1] * h + cell[..., 0])[..., None], inside[..., None].to(points.dtype))
        centres = torch.arange(h, device=points.device, dtype=points.dtype) + 0.5
        dx = (c[..., 0, None, None] - centres[None, :]).expand(b, k, h, h)
        dy = (c[..., 1, None, None] - centres[:, None]).expand(b, k, h, h)
        w = inside.to(points.dtype)
        if visible is not None:
            w = w * (visible > 0).to(points.dtype)
        return torch.cat([scores.view(b, k, h, h), dx, dy], 1), w

    def decode(self, output: torch.Tensor, method: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3K, h, w) → points (B, K, 2) in input pixels, scores (B, K) (the best cell's score)."""
        check_pip_decoder(method)
        b, c3, h, w = output.shape
        k = c3 // 3
        flat = output.reshape(b, c3, h * w)
        score, idx = flat[:, :k].max(-1)
        ox = flat[:, k:2 * k].gather(-1, idx[..., None])[..., 0]
        oy = flat[:, 2 * k:].gather(-1, idx[..., None])[..., 0]
        x = ((idx % w).to(output.dtype) + 0.5 + ox) * self.stride
        y = ((idx // w).to(output.dtype) + 0.5 + oy) * self.stride
        return torch.stack([x, y], -1), score
