"""Gaussian heatmap codec: points ↔ heatmaps, independent of any network."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from heatmark.codecs.decoders import DECODERS, decode
from heatmark.errors import ConfigError


@dataclass
class HeatmapCodec:
    """Points in input-crop pixels ↔ (K, H, W) Gaussian heatmaps at ``stride``.

    Mapping (unbiased): heatmap coordinate = input coordinate / stride, both in heatmark's continuous
    convention (pixel centres at i + 0.5), which is exact for any stride: no half-pixel shift, no
    (W-1)/(w-1) rescaling. With ``unbiased=False`` targets are centred on the nearest heatmap pixel
    centre, as classic heatmap regression does (a quantisation error of up to half a heatmap pixel).

    ``sigma`` is in heatmap pixels. ``decoder`` is one of ``argmax, quarter, dark, soft_argmax,
    local_soft_argmax``; ``beta`` is the soft-argmax temperature, ``radius`` the local window.
    """

    input_size: int = 256
    stride: int = 4
    sigma: float = 2.0
    decoder: str = "dark"
    unbiased: bool = True
    beta: float = 20.0  # decodes sigma 1.5-2 Gaussians best among 10..200 (see tests/test_codecs.py)
    radius: int = 2
    # per-point correction (K, 2) in crop pixels, added by the predictors after decoding and flip averaging
    # (a label bias flip augmentation hides; fitted on training labels, see heatmark.engine.calibrate)
    point_offset: list | None = None
    kind = "heatmap"

    def __post_init__(self) -> None:
        if self.stride not in (1, 2, 4, 8) or self.input_size % self.stride:
            raise ConfigError(f"heatmap stride must be 1, 2, 4 or 8 and divide the input size "
                              f"({self.input_size}); got {self.stride}")
        if self.decoder not in DECODERS:
            raise ConfigError(f"unknown heatmap decoder {self.decoder!r}; valid: {list(DECODERS)}")
        if self.sigma <= 0:
            raise ConfigError(f"heatmap sigma must be > 0, got {self.sigma}")

    @property
    def heatmap_size(self) -> int:
        return self.input_size // self.stride

    def encode(self, points: torch.Tensor, visible: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """points (B, K, 2) input pixels → heatmaps (B, K, h, h) in [0, 1], weights (B, K).

        A point's weight is 0 when it is not visible or its centre lies outside the heatmap."""
        h = self.heatmap_size
        c = points / self.stride
        if not self.unbiased:
            c = torch.floor(c) + 0.5
        grid = torch.arange(h, device=points.device, dtype=points.dtype) + 0.5
        gx = torch.exp(-((grid - c[..., 0:1]) ** 2) / (2 * self.sigma**2))  # (B,K,h)
        gy = torch.exp(-((grid - c[..., 1:2]) ** 2) / (2 * self.sigma**2))
        heat = gy[..., :, None] * gx[..., None, :]
        inside = ((c >= 0) & (c < h)).all(-1)
        w = inside.to(points.dtype)
        if visible is not None:
            w = w * (visible > 0).to(points.dtype)
        return heat, w

    def decode(self, heatmaps: torch.Tensor, method: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """heatmaps (B, K, h, w) → points (B, K, 2) in input pixels, scores (B, K)."""
        method = method or self.decoder
        params = {name: getattr(self, name) for name in DECODERS.get(method, (None, ()))[1]}
        pts, score = decode(heatmaps, method, **params)
        return pts * self.stride, score
