"""Label-bias calibration: the per-point offset is fitted on training labels and applied by every predictor."""

import json
import subprocess
import sys

import numpy as np

from heatmark.cli import BUNDLED_PHOTO, main

BOX = [40.0, 30.0, 290.0, 290.0]


def _with_offset(src, dst, offset):
    """A copy of a weights file whose codec carries ``offset``."""
    from heatmark.checkpoint import load_tensors, save_tensors

    tensors, meta = load_tensors(src)
    meta["codec"] = {**meta["codec"], "point_offset": offset.tolist()}
    save_tensors(dst, tensors, meta)
    return dst


def test_fit_point_offset_recovers_the_bias_it_measured(tiny_weights, fixtures, tmp_path):
    """The trimmed mean is shift-equivariant: after applying the fitted offset, a second fit finds ~0."""
    from heatmark.checkpoint import load_model
    from heatmark.engine.calibrate import fit_point_offset

    model, codec, scheme, meta = load_model(tiny_weights["heatmap"])
    offset, summary = fit_point_offset(model, codec, scheme, meta, "300w", fixtures / "300w", trim=0.2)
    assert offset.shape == (68, 2) and summary["faces"] == 6
    assert np.abs(offset).mean() > 1.0  # an untrained model is far off: the fit measured something
    codec.point_offset = offset.tolist()
    again, _ = fit_point_offset(model, codec, scheme, meta, "300w", fixtures / "300w", trim=0.2)
    np.testing.assert_allclose(again, offset, atol=1e-9)  # the fit ignores an offset already stored
    from heatmark.engine.evaluate import load_eval_set
    from heatmark.inference import CropPredictor

    data = load_eval_set("300w", fixtures / "300w", int(meta["input_size"]), float(meta["box_scale"]), scheme)
    x = np.stack([data.dataset[i]["image"].numpy() for i in range(6)])
    import torch

    with_off, _ = CropPredictor(model, codec, scheme, 64)(torch.from_numpy(x))
    codec.point_offset = None
    without, _ = CropPredictor(model, codec, scheme, 64)(torch.from_numpy(x))
    np.testing.assert_allclose(with_off - without, np.broadcast_to(offset, without.shape), atol=1e-6)


def test_offset_applied_after_flip_by_torch_and_onnx_alike(tiny_weights, tmp_path):
    """The ONNX file carries the offset in its description; both backends add it after flip averaging."""
    from heatmark.api import Landmarker

    offset = np.tile([[1.5, -0.5]], (68, 1))
    weights = _with_offset(tiny_weights["heatmap"], tmp_path / "off.safetensors", offset)
    onnx_path = tmp_path / "off.onnx"
    assert main(["export", "--weights", str(weights), "--out", str(onnx_path)]) == 0
    base = Landmarker(tiny_weights["heatmap"], detector=None, flip=True).predict(str(BUNDLED_PHOTO), boxes=[BOX])[0]
    torch_off = Landmarker(weights, detector=None, flip=True).predict(str(BUNDLED_PHOTO), boxes=[BOX])[0]
    onnx_off = Landmarker(onnx_path, detector=None, flip=True).predict(str(BUNDLED_PHOTO), boxes=[BOX])[0]
    scale = max(BOX[2] - BOX[0], BOX[3] - BOX[1]) * 1.25 / 64  # crop px → image px (square crop: longer side × scale)
    shift = torch_off.landmarks - base.landmarks
    assert np.allclose(shift[:, 0], 1.5 * scale, atol=0.05 * scale) and np.allclose(shift[:, 1], -0.5 * scale,
                                                                                      atol=0.05 * scale)
    np.testing.assert_allclose(onnx_off.landmarks, torch_off.landmarks, atol=0.05)


def test_default_landmarker_runs_the_shipped_onnx_without_torch():
    """``Landmarker()`` picks the shipped model's ONNX file (backend auto) and never imports torch."""
    code = ("import sys, json\n"
            "import heatmark\n"
            "lm = heatmark.Landmarker(detector=None)\n"
            f"face = lm.predict({str(BUNDLED_PHOTO)!r}, boxes=[{BOX}])[0]\n"
            "print(json.dumps({'torch': 'torch' in sys.modules, 'backend': lm.backend, 'n': len(face.landmarks)}))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"torch": False, "backend": "onnx", "n": 68}
