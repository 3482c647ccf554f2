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


class OpenedFiles:
    """Paths opened while recording (a Python audit hook; hooks cannot be removed, so this one stops recording)."""

    def __init__(self):
        import sys

        self.paths: list[str] = []
        self.recording = False
        sys.addaudithook(self._hook)

    def _hook(self, event, args):
        if self.recording and event == "open" and isinstance(args[0], (str, Path)):
            self.paths.append(str(args[0]))

    def __enter__(self):
        self.paths.clear()
        self.recording = True
        return self

    def __exit__(self, *exc):
        self.recording = False


_OPENED: OpenedFiles | None = None


@pytest.fixture
def opened_files() -> OpenedFiles:
    """``with opened_files as rec: ...`` then ``rec.paths``: every file opened inside the block."""
    global _OPENED
    if _OPENED is None:
        _OPENED = OpenedFiles()
    return _OPENED
