"""Grey models (model.in_channels: 1): the network sees luma; training, export and inference take colour input."""

import json

import numpy as np
import pytest
import torch

from heatmark.cli import BUNDLED_PHOTO, main


def test_grey_model_trains_exports_and_predicts(fixtures, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--train", f"facesynthetics:{fixtures / 'facesynthetics'}", "--no-val", "--out", str(run),
                 "--max-steps", "20", "--quiet", "--set", "model.in_channels=1", "--set", "data.input_size=64",
                 "--set", f"data.cache_dir={tmp_path / 'c'}", "--set", "data.workers=0",
                 "--set", "data.samples_per_epoch=8", "--set", "optim.batch_size=2", "--set", "augment=full",
                 "--set", "model.backbone=mobilenetv3_small"]) == 0
    from heatmark.checkpoint import load_model

    model, _, _, meta = load_model(run / "final.safetensors")
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.in_channels == 1 and meta["model"]["in_channels"] == 1
    colour = torch.rand(1, 3, 64, 64)
    grey = (colour * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True).expand(1, 3, 64, 64)
    with torch.inference_mode():  # colour is converted inside: the same luma gives the same output
        torch.testing.assert_close(model(colour), model(grey.contiguous()), atol=1e-5, rtol=1e-4)
    onnx = tmp_path / "grey.onnx"
    assert main(["export", "--weights", str(run / "final.safetensors"), "--out", str(onnx)]) == 0
    out = tmp_path / "pred"
    for w in (run / "final.safetensors", onnx):
        assert main(["predict", str(BUNDLED_PHOTO), "--weights", str(w), "--out", str(out), "--no-images"]) == 0
        faces = json.loads((out / "photo.json").read_text())["faces"]
        assert faces and np.isfinite(np.array(faces[0]["landmarks"])).all()


@pytest.mark.parametrize("value", ["2", "grey"])
def test_in_channels_must_be_1_or_3(value, capsys, tmp_path):
    assert main(["train", "--set", f"model.in_channels={value}", "--out", str(tmp_path / "r")]) == 2
    assert "model.in_channels" in capsys.readouterr().err
