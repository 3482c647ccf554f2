from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"needs ../shared/data beside the project ({SHARED} not found)")
    return SHARED


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """Untrained small models saved as heatmark weights files: {"heatmap": path, "regression": path}."""
    import torch

    from heatmark.checkpoint import model_meta, save_model
    from heatmark.codecs import create_codec
    from heatmark.data.schemes import IBUG68
    from heatmark.models import create_model

    out = {}
    d = tmp_path_factory.mktemp("weights")
    for head, backbone, kw, codec_kw in [("heatmap", "resnet18", {"arch": "fpn", "stride": 4},
                                          {"stride": 4, "sigma": 1.5}),
                                         ("regression", "mobilenetv3_small", {}, {})]:
        torch.manual_seed(0)
        m = create_model(head, backbone, 68, **kw)
        codec = create_codec(head, 64, **codec_kw)
        path = d / f"{head}.safetensors"
        save_model(path, m, model_meta(m, codec, IBUG68, 64, 1.25))
        out[head] = path
    return out
