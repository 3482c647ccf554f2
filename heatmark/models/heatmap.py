"""Encoder-decoder heatmap models from segmentation-models-pytorch, with a configurable output stride.

- ``unet``: smp's Unet decoder, stopped after the block at the requested stride (stride 4 drops the two
  full-resolution blocks, which is most of the decoder's CPU cost), then a 3×3 convolution to K maps.
- ``fpn``: smp's FPN decoder, whose output is at stride 4; for stride 2 or 1 its features are upsampled
  bilinearly before the 3×3 output convolution.
- any other smp architecture (``unetplusplus``, ``linknet``, ``deeplabv3plus``, ...): the full model with K
  classes, average-pooled to the stride (correct but spends compute on full-resolution outputs).

``trim_encoder`` (MobileNetV2 only): drop the encoder's last layer, the 1×1 expansion from 320 to 1280 channels, so
the first decoder block convolves 320 + 96 channels instead of 1376 (that block was a third of the default model's
multiply-adds at 128 px).

``separable_decoder`` (``unet`` only) turns each 3×3 convolution of the kept decoder blocks into a depthwise 3×3
followed by a pointwise 1×1 (MobileNet's factorisation; about a ninth of the multiply-adds), and ``head_kernel: 1``
makes the output convolution 1×1: together they take `default`'s decoder and head from ~58 % of its multiply-adds to
a small part. Trained, they cost more accuracy than a smaller crop for the same time (docs/results/default_sep).

Any smp encoder name works (``resnet18``, ``mobilenet_v2``, ``tu-<timm name>`` ...); encoders are built with
``encoder_weights=None``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from heatmark.errors import ConfigError
from heatmark.models.common import Normalize

ENCODER_ALIASES = {"mobilenetv2": "mobilenet_v2", "mobilenetv3": "tu-mobilenetv3_large_100",
                   "mobilenetv3_small": "tu-mobilenetv3_small_100"}


class HeatmapModel(nn.Module):
    """Image in [0, 1] (B, 3, S, S) → heatmaps (B, K, S/stride, S/stride). S must be a multiple of 32.
    ``in_channels=1``: a grey model (the colour input is converted inside, see :class:`Normalize`)."""

    head_type = "heatmap"

    def __init__(self, backbone: str = "resnet18", num_points: int = 68, arch: str = "unet", stride: int = 4,
                 decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16), fpn_channels: int = 128,
                 in_channels: int = 3, trim_encoder: bool = False, separable_decoder: bool = False,
                 head_kernel: int = 3):
        super().__init__()
        import segmentation_models_pytorch as smp

        if stride not in (1, 2, 4, 8):
            raise ConfigError(f"heatmap output stride must be 1, 2, 4 or 8, got {stride}")
        if stride == 8 and arch.lower() != "unet":
            raise ConfigError(f"heatmap output stride 8 needs arch unet (the {arch} decoder ends at stride 4)")
        self.num_points, self.stride, self.arch = num_points, stride, arch.lower()
        self.normalize = Normalize(in_channels=in_channels)  # in_channels 1: the network sees grey images
        encoder = ENCODER_ALIASES.get(backbone, backbone)
        try:
            if self.arch == "unet":
                net = smp.create_model("unet", encoder_name=encoder, encoder_weights=None, classes=num_points,
                                       decoder_channels=tuple(decoder_channels), in_channels=in_channels)
                keep = len(decoder_channels) - int(math.log2(stride))
                net.decoder.blocks = net.decoder.blocks[:keep]
                feat = decoder_channels[keep - 1]
            elif self.arch == "fpn":
                net = smp.create_model("fpn", encoder_name=encoder, encoder_weights=None, classes=num_points,
                                       decoder_segmentation_channels=fpn_channels, upsampling=1,
                                       in_channels=in_channels)
                feat = fpn_channels
            else:
                net = smp.create_model(self.arch, encoder_name=encoder, encoder_weights=None, classes=num_points,
                                       in_channels=in_channels)
                feat = None
        except (KeyError, ValueError) as e:
            if "encoder" in str(e).lower() and encoder not in smp.encoders.get_encoder_names():
                raise ConfigError(
                    f"unknown backbone {backbone!r} for the heatmap head; use an smp encoder name (e.g. resnet18, "
                    f"resnet50, mobilenet_v2; all: segmentation_models_pytorch.encoders.get_encoder_names()) "
                    f"or tu-<timm model name>") from None
            raise ConfigError(f"cannot build heatmap model arch={arch!r} encoder={backbone!r}: {e}") from None
        if trim_encoder:
            _trim_encoder(net, backbone)
        if separable_decoder:
            if self.arch != "unet":
                raise ConfigError(f"model.options.separable_decoder works with arch unet, not {arch!r}")
            _separate_decoder(net.decoder)
        if head_kernel not in (1, 3):
            raise ConfigError(f"model.options.head_kernel must be 1 or 3, got {head_kernel!r}")
        self.encoder, self.decoder = net.encoder, net.decoder
        self.generic = None if feat is not None else net
        self.head = nn.Conv2d(feat, num_points, head_kernel, padding=head_kernel // 2) if feat is not None else None
        if self.head is not None:
            nn.init.normal_(self.head.weight, std=1e-3)
            nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x)
        if self.generic is not None:
            out = self.generic(x)
            return F.avg_pool2d(out, self.stride) if self.stride > 1 else out
        f = self.decoder(self.encoder(x))
        if self.arch == "fpn" and self.stride < 4:  # the FPN decoder ends at stride 4; a static branch (ONNX)
            f = F.interpolate(f, scale_factor=4 // self.stride, mode="bilinear", align_corners=False)
        return self.head(f)


def _trim_encoder(net: nn.Module, backbone: str) -> None:
    """Replace a MobileNetV2 encoder's final 1×1 expansion (320 → 1280) by the identity and narrow the first
    decoder block's first convolution to the 320 channels it now receives (plus its skip connection)."""
    features = getattr(net.encoder, "features", None)
    last = features[-1] if features is not None else None
    conv = last[0] if isinstance(last, nn.Sequential) and len(last) and isinstance(last[0], nn.Conv2d) else None
    if conv is None or conv.kernel_size != (1, 1) or not hasattr(net.decoder, "blocks"):
        raise ConfigError(f"model.options.trim_encoder works with backbone mobilenet_v2 and arch unet, not "
                          f"{backbone!r}; remove the option for this backbone")
    features[-1] = nn.Identity()
    old = net.decoder.blocks[0].conv1[0]
    skip = old.in_channels - conv.out_channels
    net.decoder.blocks[0].conv1[0] = nn.Conv2d(conv.in_channels + skip, old.out_channels, old.kernel_size,
                                               padding=old.padding, bias=old.bias is not None)
    net.encoder._out_channels[-1] = conv.in_channels


def _separate_decoder(decoder: nn.Module) -> None:
    """Replace every 3×3 convolution in the Unet decoder's blocks by a depthwise 3×3 and a pointwise 1×1 convolution
    (the normalisation and activation after each stay)."""
    for block in decoder.blocks:
        for name in ("conv1", "conv2"):
            seq = getattr(block, name)
            conv = seq[0]
            seq[0] = nn.Sequential(
                nn.Conv2d(conv.in_channels, conv.in_channels, conv.kernel_size, padding=conv.padding,
                          groups=conv.in_channels, bias=False),
                nn.Conv2d(conv.in_channels, conv.out_channels, 1, bias=conv.bias is not None))
