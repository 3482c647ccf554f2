"""Per-head training recipes applied on top of :data:`heatmark.config.DEFAULTS` by ``heatmark train --head``.

``configs/heatmap.yaml`` and ``configs/regression.yaml`` spell the same recipes out as files (a test keeps
them identical), so a run can start from either.
"""

from __future__ import annotations

HEAD_RECIPES: dict[str, dict] = {
    "heatmap": {
        "model": {"head": "heatmap", "backbone": "resnet18", "options": {"arch": "unet", "stride": 4}},
        "codec": {"stride": 4, "sigma": 1.5, "decoder": "dark"},
        "loss": {"name": "awing", "params": {}},
    },
    "pip": {
        "model": {"head": "pip", "backbone": "resnet18", "options": {"stride": 16}},
        "codec": {"stride": 16},
        "loss": {"name": "pip", "params": {}},
    },
    "regression": {
        "model": {"head": "regression", "backbone": "resnet18", "options": {}},
        "codec": {},
        "loss": {"name": "wing", "params": {"omega": 10.0, "epsilon": 2.0}},
    },
}
