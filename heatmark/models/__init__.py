"""Models: one factory for every head and backbone (``create_model``)."""

from __future__ import annotations

import inspect

from torch import nn

from heatmark import _compat  # noqa: F401  (registers torchvision::nms before timm / smp import torchvision)
from heatmark.errors import ConfigError
from heatmark.models.backbones import BACKBONES, create_backbone
from heatmark.models.common import count_parameters
from heatmark.models.heatmap import HeatmapModel
from heatmark.models.pip import PipModel
from heatmark.models.regression import RegressionModel

HEADS = {"regression": RegressionModel, "heatmap": HeatmapModel, "pip": PipModel}


def create_model(head: str = "heatmap", backbone: str = "resnet18", num_points: int = 68, **kw) -> nn.Module:
    """Build a model. ``head``: ``regression`` (kw: hidden, dropout, backbone_kw), ``heatmap``
    (kw: arch, stride, decoder_channels, fpn_channels) or ``pip`` (kw: stride, head_channels). The arguments are
    kept on ``model.config`` so the same model can be rebuilt from a checkpoint's sidecar:
    ``create_model(**model.config)``."""
    cls = HEADS.get(head)
    if cls is None:
        raise ConfigError(f"unknown head {head!r}; valid: {sorted(HEADS)}")
    valid = set(inspect.signature(cls.__init__).parameters) - {"self", "backbone", "num_points"}
    unknown = set(kw) - valid
    if unknown:
        raise ConfigError(f"unknown option(s) {sorted(unknown)} for the {head} head; valid: {sorted(valid)}")
    model = cls(backbone=backbone, num_points=int(num_points), **kw)
    model.config = {"head": head, "backbone": backbone, "num_points": int(num_points), **kw}
    return model


__all__ = ["BACKBONES", "HEADS", "HeatmapModel", "PipModel", "RegressionModel", "count_parameters",
           "create_backbone", "create_model"]
