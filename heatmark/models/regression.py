"""Direct coordinate regression: backbone → global average pooling → fully connected layers → K×2."""

from __future__ import annotations

import torch
from torch import nn

from heatmark.models.backbones import create_backbone
from heatmark.models.common import Normalize


class RegressionModel(nn.Module):
    """Image in [0, 1] (B, 3, S, S) → coordinates normalised to the crop (B, K, 2), (0, 0) top-left and
    (1, 1) bottom-right. The output layer starts near zero with its bias at the crop centre (or at a
    mean shape, see :meth:`init_mean_shape`), so training starts from a sensible face."""

    head_type = "regression"

    def __init__(self, backbone: str = "resnet18", num_points: int = 68, hidden: int = 256, dropout: float = 0.1,
                 backbone_kw: dict | None = None, in_channels: int = 3):
        super().__init__()
        self.num_points = num_points
        self.normalize = Normalize(in_channels=in_channels)  # in_channels 1: the network sees grey images
        self.backbone = create_backbone(backbone, in_channels=in_channels, **(backbone_kw or {}))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(self.backbone.out_channels, hidden),
            nn.LeakyReLU(0.1),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_points * 2),
        )
        out = self.fc[-1]
        nn.init.normal_(out.weight, std=1e-3)
        nn.init.constant_(out.bias, 0.5)

    @torch.no_grad()
    def init_mean_shape(self, mean_points: torch.Tensor) -> None:
        """Set the output bias to a mean shape (K, 2) in normalised crop coordinates."""
        self.fc[-1].bias.copy_(mean_points.reshape(-1).to(self.fc[-1].bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.pool(self.backbone(self.normalize(x)))
        return self.fc(f).view(x.shape[0], self.num_points, 2)
