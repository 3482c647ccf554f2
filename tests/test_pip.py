"""The pixel-in-pixel head: codec round trip, NumPy decoder = torch decoder, loss, model shapes, and a model
trained, exported and run without torch on the fixtures."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_train import _quiet, small_cfg

from heatmark.cli import BUNDLED_PHOTO, main
from heatmark.codecs import create_codec
from heatmark.codecs.numpy_decoders import NumpyCodec, decode_pip
from heatmark.codecs.pip import PipCodec
from heatmark.errors import ConfigError
from heatmark.losses import create_loss
from heatmark.models import create_model


def _points(n=4, k=68, size=128, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).uniform(0, size, (n, k, 2))).float()


@pytest.mark.parametrize("stride", [8, 16, 32])
def test_the_perfect_output_decodes_to_the_points_exactly(stride):
    codec = PipCodec(input_size=128, stride=stride)
    pts = _points()
    target, w = codec.encode(pts, torch.ones(pts.shape[:2]))
    h = 128 // stride
    assert target.shape == (4, 3 * 68, h, h) and torch.all(w == 1)
    assert torch.all(target[:, :68].flatten(2).sum(-1) == 1)  # one cell per point
    got, score = codec.decode(target)
    torch.testing.assert_close(got, pts, atol=1e-4, rtol=0)
    assert torch.all(score == 1)


def test_points_outside_the_crop_or_hidden_get_no_weight():
    codec = PipCodec(input_size=64, stride=16)
    pts = torch.tensor([[[10.0, 10.0], [-1.0, 5.0], [70.0, 3.0], [30.0, 30.0]]])
    target, w = codec.encode(pts, torch.tensor([[1.0, 1.0, 1.0, 0.0]]))
    assert w.tolist() == [[1.0, 0.0, 0.0, 0.0]]
    assert target[0, 1].sum() == 0 and target[0, 2].sum() == 0  # no score cell for points outside


def test_numpy_decoder_matches_torch_decoder():
    out = torch.randn(3, 3 * 68, 8, 8)
    ref, ref_score = PipCodec(input_size=128, stride=16).decode(out)
    got, score = decode_pip(out.numpy(), 16)
    np.testing.assert_allclose(got, ref.numpy(), atol=1e-4)
    np.testing.assert_allclose(score, ref_score.numpy(), atol=1e-6)
    np.testing.assert_allclose(NumpyCodec({"kind": "pip", "stride": 16}, 128).decode(out.numpy())[0], got)


def test_heatmap_decoders_are_refused_for_pip_models():
    with pytest.raises(ConfigError, match="pip model decodes with its own offsets"):
        PipCodec().decode(torch.zeros(1, 6, 8, 8), "dark")
    with pytest.raises(ConfigError, match="pip model decodes with its own offsets"):
        NumpyCodec({"kind": "pip", "stride": 16}, 128).decode(np.zeros((1, 6, 8, 8), np.float32), "dark")
    with pytest.raises(ConfigError, match="stride"):
        create_codec("pip", 128, stride=4)


def test_loss_is_zero_at_the_target_and_ignores_offsets_far_from_the_point():
    codec, loss = PipCodec(input_size=128, stride=16), create_loss("pip")
    pts = _points(2)
    target, w = codec.encode(pts)
    assert loss(target, target, w).item() == pytest.approx(0.0, abs=1e-7)
    far = target.clone()
    near_cells = torch.nn.functional.max_pool2d(target[:, :68], 3, 1, 1) > 0
    far[:, 68:][(~near_cells).repeat(1, 2, 1, 1)] += 5.0  # wrong offsets only where the loss does not look
    assert loss(far, target, w).item() == pytest.approx(0.0, abs=1e-7)
    wrong = target.clone()
    wrong[:, 68:] += 0.5
    assert loss(wrong, target, w).item() == pytest.approx(1.0, abs=1e-5)  # |dx| + |dy| = 0.5 + 0.5 per point
    assert loss(wrong, target, torch.zeros_like(w)).item() == 0.0  # all points masked


@pytest.mark.parametrize(("backbone", "stride", "grid"), [("resnet18", 16, 8), ("mobilenetv3_small", 32, 4)])
def test_model_output_shapes(backbone, stride, grid):
    m = create_model("pip", backbone, 68, stride=stride).eval()
    with torch.no_grad():
        assert m(torch.zeros(2, 3, 128, 128)).shape == (2, 3 * 68, grid, grid)
    grey = create_model("pip", backbone, 5, stride=stride, in_channels=1, head_channels=32).eval()
    with torch.no_grad():
        assert grey(torch.zeros(1, 3, 128, 128)).shape == (1, 15, grid, grid)
    with pytest.raises(ConfigError, match="pip head stride"):
        create_model("pip", backbone, 68, stride=4)


def test_a_pip_model_needs_the_pip_loss(fixtures, tmp_path):
    from heatmark.engine.trainer import Trainer

    with pytest.raises(ConfigError, match="needs a pip loss"):
        Trainer(small_cfg(fixtures, tmp_path, head="pip", extra=["loss.name=awing"]), tmp_path / "run",
                progress=False, log=_quiet)


def test_trained_pip_model_evaluates_exports_and_runs_without_torch(fixtures, tmp_path):
    """Training lowers the loss; the ONNX export run by onnxruntime (no torch import) gives the torch answers."""
    from heatmark.engine.trainer import Trainer

    Trainer(small_cfg(fixtures, tmp_path, head="pip", epochs=2), tmp_path / "run", progress=False, log=_quiet).fit()
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert lines[1]["train_loss"] < lines[0]["train_loss"] and np.isfinite(lines[-1]["val_nme"])
    weights, onnx_path = tmp_path / "run" / "final.safetensors", tmp_path / "pip.onnx"
    assert main(["export", "--weights", str(weights), "--out", str(onnx_path)]) == 0
    box = [40.0, 30.0, 290.0, 290.0]
    code = ("import sys, json\n"
            "from heatmark import Landmarker\n"
            f"face = Landmarker({str(onnx_path)!r}, detector=None, flip=True).predict({str(BUNDLED_PHOTO)!r}, "
            f"boxes=[{box}])[0]\n"
            "print(json.dumps({'torch': 'torch' in sys.modules, 'points': face.landmarks.tolist()}))\n")
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["torch"] is False
    from heatmark.api import Landmarker

    ref = Landmarker(weights, detector=None, flip=True).predict(str(BUNDLED_PHOTO), boxes=[box])[0]
    np.testing.assert_allclose(np.array(out["points"]), ref.landmarks, atol=0.05)
