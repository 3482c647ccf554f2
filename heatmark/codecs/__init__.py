"""Codecs: training targets from points (``encode``) and points from network outputs (``decode``).

Kept apart from the networks; each is tested on its own. Never imports models. The torch codecs load on first
use, so ``heatmark.codecs.numpy_decoders`` (inference without torch) does not pull torch in.
"""

from __future__ import annotations

import importlib

_LAZY = {"DECODERS": "heatmark.codecs.decoders", "HeatmapCodec": "heatmark.codecs.heatmap",
         "PipCodec": "heatmark.codecs.pip", "RegressionCodec": "heatmark.codecs.regression"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'heatmark.codecs' has no attribute {name!r}")


def create_codec(head: str, input_size: int, **kw):
    """The codec for a head type: ``heatmap`` (kw: stride, sigma, decoder, ...), ``pip`` (kw: stride) or
    ``regression``."""
    from heatmark.codecs.heatmap import HeatmapCodec
    from heatmark.codecs.pip import PipCodec
    from heatmark.codecs.regression import RegressionCodec
    from heatmark.errors import ConfigError

    if head == "heatmap":
        return HeatmapCodec(input_size=input_size, **kw)
    if head == "pip":
        unknown = set(kw) - {"stride", "point_offset"}
        if unknown:
            raise ConfigError(f"the pip codec takes stride and point_offset, got {sorted(kw)}")
        return PipCodec(input_size=input_size, **kw)
    if head == "regression":
        offset = kw.pop("point_offset", None)
        if kw:
            raise ConfigError(f"the regression codec takes no options but point_offset, got {sorted(kw)}")
        return RegressionCodec(input_size=input_size, point_offset=offset)
    raise ConfigError(f"unknown head {head!r}; valid: heatmap, pip, regression")


__all__ = ["DECODERS", "HeatmapCodec", "PipCodec", "RegressionCodec", "create_codec"]
