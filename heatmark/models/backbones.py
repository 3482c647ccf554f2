"""Feature extractors for the regression head, all built from scratch (no pretrained weights)."""

from __future__ import annotations

import torch
from torch import nn

from heatmark.errors import ConfigError
from heatmark.models.xception import XceptionLeaky

# user-facing name → timm model name
TIMM_BACKBONES = {
    "resnet18": "resnet18",
    "resnet50": "resnet50",
    "mobilenetv2": "mobilenetv2_100",
    "mobilenetv3": "mobilenetv3_large_100",
    "mobilenetv3_small": "mobilenetv3_small_100",
}
BACKBONES = (*TIMM_BACKBONES, "xception")


class TimmBackbone(nn.Module):
    """A timm network's feature extractor (``features_only``: no classifier or head convolution is built):
    image → last feature map."""

    def __init__(self, name: str, in_channels: int = 3):
        super().__init__()
        import timm

        self.net = timm.create_model(name, pretrained=False, features_only=True, out_indices=(-1,),
                                     in_chans=in_channels)
        self.out_channels = int(self.net.feature_info.channels()[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[-1]


def create_backbone(name: str, in_channels: int = 3, **kw) -> nn.Module:
    """A backbone by name (see ``BACKBONES``); any timm model name also works. ``xception`` takes
    ``width``, ``middle_blocks`` and ``slope``. ``in_channels``: 3 (colour) or 1 (grey)."""
    if name == "xception":
        return XceptionLeaky(in_channels=in_channels, **kw)
    if kw:
        raise ConfigError(f"backbone {name!r} takes no options, got {sorted(kw)}")
    import timm

    timm_name = TIMM_BACKBONES.get(name, name)
    if timm_name not in TIMM_BACKBONES.values() and not timm.is_model(timm_name):
        raise ConfigError(f"unknown backbone {name!r}; built-in: {list(BACKBONES)}, or any timm model name")
    return TimmBackbone(timm_name, in_channels)
