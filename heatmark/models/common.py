"""Small building blocks shared by the heads."""

from __future__ import annotations

import torch
from torch import nn


class Normalize(nn.Module):
    """RGB in [0, 1] → ImageNet-normalised input. Part of every model, so callers feed plain [0, 1] images.
    ``in_channels=1`` (a grey model): the RGB input is first converted to luma (ITU-R BT.601 weights), so every
    path (training, export, inference) feeds the network grey images while callers keep passing colour."""

    def __init__(self, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), in_channels: int = 3):
        super().__init__()
        if in_channels not in (1, 3):
            from heatmark.errors import ConfigError

            raise ConfigError(f"model.options.in_channels must be 1 (grey) or 3 (colour), got {in_channels}")
        self.grey = in_channels == 1
        if self.grey:
            mean, std = (sum(mean) / 3,), (sum(std) / 3,)
        c = len(mean)
        self.register_buffer("mean", torch.tensor(mean).view(1, c, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, c, 1, 1), persistent=False)
        self.register_buffer("luma", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.grey:
            x = (x * self.luma).sum(1, keepdim=True)
        return (x - self.mean) / self.std


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
