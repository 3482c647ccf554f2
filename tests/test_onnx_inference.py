"""Inference from an exported ONNX file: the torch Landmarker's answers, without importing torch."""

import json
import subprocess
import sys

import numpy as np
import pytest

from heatmark.cli import BUNDLED_PHOTO, main

BOX = [40.0, 30.0, 290.0, 290.0]


@pytest.mark.parametrize("flip", [False, True])
def test_onnx_file_predicts_like_torch_and_imports_no_torch(tiny_weights, tmp_path, flip):
    onnx_path = tmp_path / "tiny.onnx"
    assert main(["export", "--weights", str(tiny_weights["heatmap"]), "--out", str(onnx_path)]) == 0
    code = (
        "import sys, json\n"
        "from heatmark import Landmarker\n"
        f"lm = Landmarker({str(onnx_path)!r}, detector=None, flip={flip})\n"
        f"face = lm.predict({str(BUNDLED_PHOTO)!r}, boxes=[{BOX}])[0]\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'points': face.landmarks.tolist()}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["torch"] is False
    from heatmark.api import Landmarker

    ref = Landmarker(tiny_weights["heatmap"], detector=None, flip=flip).predict(str(BUNDLED_PHOTO), boxes=[BOX])[0]
    np.testing.assert_allclose(np.array(out["points"]), ref.landmarks, atol=0.05)  # fp32 kernels differ slightly


def test_onnx_without_description_is_refused(tmp_path):
    from heatmark.api import Landmarker
    from heatmark.errors import DataError

    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(DataError, match="x.onnx: not a readable ONNX model"):
        Landmarker(bad, detector=None)


def test_cli_predict_with_an_onnx_file_imports_no_torch(tiny_weights, tmp_path):
    onnx_path = tmp_path / "tiny.onnx"
    assert main(["export", "--weights", str(tiny_weights["heatmap"]), "--out", str(onnx_path)]) == 0
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "heatmark", "predict", "--weights", str(onnx_path),
                        "--out", str(tmp_path / "pred"), "--no-images"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "torch" not in imported and "onnxruntime" in imported
    assert json.loads((tmp_path / "pred" / "photo.json").read_text())["faces"]
