"""Losses for coordinates (B, K, 2), heatmaps (B, K, H, W) and pixel-in-pixel maps (B, 3K, h, w), all with
per-point weights (B, K).

A weight of 0 masks a point (missing, occluded, outside the crop); results are means over the weighted
points, so masking never rescales the loss of the remaining ones.

Coordinate losses with parameters in pixels (Wing, Soft-Wing) take ``pixel_scale``: the number of crop
pixels per target unit (the input size when targets are normalised to [0, 1]). Errors are converted to
pixels before the threshold is applied, so ω = 10 means 10 crop pixels whatever the normalisation; a
Wing loss computed on [0, 1] targets with ω = 10 would never leave its logarithmic region.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from heatmark.errors import ConfigError


def _weighted_mean(per_elem: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """per_elem (B, K, ...) → scalar: mean over trailing dims, weighted mean over (B, K)."""
    per_point = per_elem.flatten(2).mean(-1)
    if weight is None:
        return per_point.mean()
    w = weight.to(per_point.dtype)
    return (per_point * w).sum() / w.sum().clamp(min=1e-6)


class CoordLoss(nn.Module):
    kind = "coords"

    def __init__(self, pixel_scale: float = 1.0):
        super().__init__()
        self.pixel_scale = float(pixel_scale)

    def elementwise(self, diff_px: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return _weighted_mean(self.elementwise((pred - target) * self.pixel_scale), weight)


class MSELoss(CoordLoss):
    """Mean squared error, in pixel² when ``pixel_scale`` converts to pixels."""

    def elementwise(self, d):
        return d**2


class L1Loss(CoordLoss):
    def elementwise(self, d):
        return d.abs()


class SmoothL1Loss(CoordLoss):
    """Huber loss with threshold ``beta`` pixels."""

    def __init__(self, beta: float = 1.0, pixel_scale: float = 1.0):
        super().__init__(pixel_scale)
        self.beta = beta

    def elementwise(self, d):
        return F.smooth_l1_loss(d, torch.zeros_like(d), reduction="none", beta=self.beta)


class WingLoss(CoordLoss):
    """Wing loss (Feng et al., CVPR 2018), per coordinate:
    ω·ln(1 + |x|/ε) if |x| < ω, else |x| − C with C = ω − ω·ln(1 + ω/ε). ω, ε in pixels."""

    def __init__(self, omega: float = 10.0, epsilon: float = 2.0, pixel_scale: float = 1.0):
        super().__init__(pixel_scale)
        self.omega, self.epsilon = omega, epsilon
        self.C = omega - omega * math.log(1 + omega / epsilon)

    def elementwise(self, d):
        a = d.abs()
        return torch.where(a < self.omega, self.omega * torch.log1p(a / self.epsilon), a - self.C)


class SoftWingLoss(CoordLoss):
    """Soft-Wing loss (Lin et al., 2021; as in mmpose), per coordinate:
    |x| if |x| < ω1, else ω2·ln(1 + |x|/ε) + B with B = ω1 − ω2·ln(1 + ω1/ε). Parameters in pixels."""

    def __init__(self, omega1: float = 2.0, omega2: float = 20.0, epsilon: float = 0.5, pixel_scale: float = 1.0):
        super().__init__(pixel_scale)
        self.omega1, self.omega2, self.epsilon = omega1, omega2, epsilon
        self.B = omega1 - omega2 * math.log(1 + omega1 / epsilon)

    def elementwise(self, d):
        a = d.abs()
        return torch.where(a < self.omega1, a, self.omega2 * torch.log1p(a / self.epsilon) + self.B)


class HeatmapLoss(nn.Module):
    kind = "heatmap"


class HeatmapMSELoss(HeatmapLoss):
    """Pixel-wise MSE between heatmaps, with per-point target weights."""

    def forward(self, pred, target, weight=None):
        return _weighted_mean((pred - target) ** 2, weight)


class AdaptiveWingLoss(HeatmapLoss):
    """Adaptive Wing loss (Wang et al., ICCV 2019) with its weighted loss map.

    AWing(y, ŷ) = ω·ln(1 + |y−ŷ|/ε)^(α−y)   if |y−ŷ| < θ
                  A·|y−ŷ| − C                otherwise,
    A = ω·(1/(1 + (θ/ε)^(α−y)))·(α−y)·(θ/ε)^(α−y−1)/ε,  C = θ·A − ω·ln(1 + (θ/ε)^(α−y)).
    The loss map is weighted by ``1 + W·M`` with M the target > ``threshold`` region grey-dilated by a
    3×3 window (foreground pixels and their neighbours count W + 1 times).
    """

    def __init__(self, omega: float = 14.0, theta: float = 0.5, epsilon: float = 1.0, alpha: float = 2.1,
                 map_weight: float = 10.0, threshold: float = 0.2):
        super().__init__()
        self.omega, self.theta, self.epsilon, self.alpha = omega, theta, epsilon, alpha
        self.map_weight, self.threshold = map_weight, threshold

    def elementwise(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        d = (pred - target).abs()
        p = self.alpha - target
        r = self.theta / self.epsilon
        A = self.omega / (1 + r**p) * p * r ** (p - 1) / self.epsilon
        C = self.theta * A - self.omega * torch.log1p(r**p)
        small = self.omega * torch.log1p((d / self.epsilon) ** p)
        return torch.where(d < self.theta, small, A * d - C)

    def loss_map_weight(self, target: torch.Tensor) -> torch.Tensor:
        b, k, h, w = target.shape
        m = (target > self.threshold).to(target.dtype).reshape(b * k, 1, h, w)
        m = F.max_pool2d(m, 3, stride=1, padding=1).reshape(b, k, h, w)  # grey dilation 3×3
        return 1 + self.map_weight * m

    def forward(self, pred, target, weight=None):
        return _weighted_mean(self.elementwise(pred, target) * self.loss_map_weight(target), weight)


class PipLoss(nn.Module):
    """Pixel-in-pixel loss (as PIPNet): ``score_weight`` · MSE of the score maps against the one-hot cell
    target, plus the L1 error of the x and y offsets (in cells) over the cells within ``radius`` of the point's
    cell, so a neighbouring best cell still decodes near the point. Targets from
    :class:`heatmark.codecs.pip.PipCodec` (B, 3K, h, w)."""

    kind = "pip"

    def __init__(self, score_weight: float = 10.0, radius: int = 1):
        super().__init__()
        if score_weight <= 0 or radius < 0:
            raise ConfigError(f"pip loss: score_weight must be > 0 and radius >= 0, got {score_weight}, {radius}")
        self.score_weight, self.radius = float(score_weight), int(radius)

    def forward(self, pred, target, weight=None):
        k = pred.shape[1] // 3
        score = ((pred[:, :k] - target[:, :k]) ** 2).flatten(2).mean(-1)  # (B, K)
        r = self.radius
        near = F.max_pool2d(target[:, :k], 2 * r + 1, stride=1, padding=r) if r else target[:, :k]
        err = (pred[:, k:2 * k] - target[:, k:2 * k]).abs() + (pred[:, 2 * k:] - target[:, 2 * k:]).abs()
        offset = (err * near).flatten(2).sum(-1) / near.flatten(2).sum(-1).clamp(min=1)
        return _weighted_mean((self.score_weight * score + offset)[..., None], weight)


LOSSES: dict[str, type[nn.Module]] = {
    "mse": MSELoss, "l1": L1Loss, "smooth_l1": SmoothL1Loss, "wing": WingLoss, "soft_wing": SoftWingLoss,
    "heatmap_mse": HeatmapMSELoss, "awing": AdaptiveWingLoss, "pip": PipLoss,
}


def create_loss(name: str, **kw) -> nn.Module:
    """A loss by name: mse, l1, smooth_l1, wing, soft_wing (coordinates); heatmap_mse, awing (heatmaps); pip
    (pixel-in-pixel maps)."""
    cls = LOSSES.get(name)
    if cls is None:
        raise ConfigError(f"unknown loss {name!r}; valid: {sorted(LOSSES)}")
    try:
        return cls(**kw)
    except TypeError as e:
        raise ConfigError(f"loss {name!r}: {e}") from None
