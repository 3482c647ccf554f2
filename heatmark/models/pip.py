"""Pixel-in-pixel head (after PIPNet, Jin et al., IJCV 2021): no decoder at all.

The encoder's feature map at ``stride`` 8, 16 or 32 (an 8×8 grid for a 128-pixel crop at stride 16) goes
through one 1×1 convolution to 3·K maps: for each point a score per grid cell and, per cell, the point's x and y
offset from that cell's centre in cells. Decoding (:class:`heatmark.codecs.pip.PipCodec`) takes the best cell
and adds its offsets: subpixel coordinates from a coarse map. Without the upsampling decoder an encoder-decoder
heatmap model spends most of its CPU time on, the network is several times cheaper (``tools/probe_arch_speed.py``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from heatmark.codecs.pip import STRIDES  # the grid strides the codec decodes: one list for both
from heatmark.errors import ConfigError
from heatmark.models.common import Normalize
from heatmark.models.heatmap import ENCODER_ALIASES


class PipModel(nn.Module):
    """Image in [0, 1] (B, 3, S, S) → (B, 3K, S/stride, S/stride): K score maps, then K x-offset maps, then K
    y-offset maps. ``head_channels`` > 0 adds a 1×1 convolution + BatchNorm + ReLU of that width before the
    output convolution. Any smp encoder name works (``resnet18``, ``mobilenet_v2``, ``tu-<timm name>``), built
    with ``encoder_weights=None`` and only as deep as the stride needs."""

    head_type = "pip"

    def __init__(self, backbone: str = "resnet18", num_points: int = 68, stride: int = 16, head_channels: int = 0,
                 in_channels: int = 3):
        super().__init__()
        import segmentation_models_pytorch as smp

        if stride not in STRIDES:
            raise ConfigError(f"pip head stride must be one of {STRIDES}, got {stride}")
        self.num_points, self.stride = num_points, stride
        self.normalize = Normalize(in_channels=in_channels)
        encoder = ENCODER_ALIASES.get(backbone, backbone)
        try:
            self.encoder = smp.encoders.get_encoder(encoder, in_channels=in_channels, depth=int(math.log2(stride)),
                                                    weights=None)
        except (KeyError, ValueError) as e:
            raise ConfigError(f"unknown backbone {backbone!r} for the pip head ({e}); use an smp encoder name "
                              "(e.g. resnet18, mobilenet_v2) or tu-<timm model name>") from None
        c = self.encoder.out_channels[-1]
        layers: list[nn.Module] = []
        if head_channels:
            layers += [nn.Conv2d(c, head_channels, 1, bias=False), nn.BatchNorm2d(head_channels), nn.ReLU(inplace=True)]
            c = head_channels
        out = nn.Conv2d(c, 3 * num_points, 1)
        nn.init.normal_(out.weight, std=1e-3)
        nn.init.zeros_(out.bias)
        self.head = nn.Sequential(*layers, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.normalize(x))[-1])
