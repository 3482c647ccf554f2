"""Codecs: training targets from points (``encode``) and points from network outputs (``decode``).

Kept apart from the networks; each is tested on its own. Never imports models.
"""

from __future__ import annotations

from heatmark.codecs.decoders import DECODERS
from heatmark.codecs.heatmap import HeatmapCodec
from heatmark.codecs.regression import RegressionCodec
from heatmark.errors import ConfigError


def create_codec(head: str, input_size: int, **kw) -> HeatmapCodec | RegressionCodec:
    """The codec for a head type: ``heatmap`` (kw: stride, sigma, decoder, ...) or ``regression``."""
    if head == "heatmap":
        return HeatmapCodec(input_size=input_size, **kw)
    if head == "regression":
        if kw:
            raise ConfigError(f"the regression codec takes no options, got {sorted(kw)}")
        return RegressionCodec(input_size=input_size)
    raise ConfigError(f"unknown head {head!r}; valid: heatmap, regression")


__all__ = ["DECODERS", "HeatmapCodec", "RegressionCodec", "create_codec"]
