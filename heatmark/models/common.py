"""Small building blocks shared by the heads."""

from __future__ import annotations

import torch
from torch import nn


class Normalize(nn.Module):
    """RGB in [0, 1] → ImageNet-normalised input. Part of every model, so callers feed plain [0, 1] images."""

    def __init__(self, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
