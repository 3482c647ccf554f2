"""heatmark predict / export / video on fixtures with an untrained tiny model (mechanics, not accuracy)."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from heatmark.cli import main


def test_predict_folder_json_png_resume_and_skip_bad(tiny_weights, fixtures, tmp_path, capsys):
    src = tmp_path / "imgs"
    shutil.copytree(fixtures / "300w", src)
    (src / "broken.jpg").write_text("not an image")
    out = tmp_path / "out"
    args = ["predict", str(src), "--out", str(out), "--weights", str(tiny_weights["heatmap"]), "--detector", "full"]
    r = subprocess.run([sys.executable, "-m", "heatmark.cli", *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "broken.jpg" in r.stderr and "Traceback" not in r.stderr
    assert main(args + ["--skip-bad"]) == 0
    assert "1 skipped" in capsys.readouterr().out
    docs = sorted(out.glob("*.json"))
    assert len(docs) == 6 and len(list(out.glob("*.png"))) == 6
    d = json.loads(docs[0].read_text())
    assert len(d["faces"]) == 1 and len(d["faces"][0]["landmarks"]) == 68
    (docs[0]).unlink()
    assert main(args + ["--skip-bad", "--resume"]) == 0
    assert "5 already done" in capsys.readouterr().out and len(list(out.glob("*.json"))) == 6


def test_export_onnx_parity(tiny_weights, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "m.onnx"
    assert main(["export", "--weights", str(tiny_weights["regression"]), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    diff = float(text.split("batch of 8:", 1)[1].split(";", 1)[0])
    assert out.is_file() and diff < 1e-4


def test_video_tracks_and_writes(tiny_weights, fixtures, tmp_path):
    sys.path.insert(0, str(fixtures.parents[1] / "tools"))
    from make_video import make_clip

    from heatmark.api import Landmarker
    from heatmark.video import OneEuroFilter, process_video

    clip = make_clip(tmp_path / "clip.mp4", sorted((fixtures / "300w").glob("*.jpg"))[:2], frames=20)

    class FullFrameDetector:  # a stand-in detector: one box in the middle of the frame
        name = None

        def __call__(self, rgb):
            h, w = rgb.shape[:2]
            return np.array([[w / 2 - 120, h / 2 - 120, w / 2 + 120, h / 2 + 120]], np.float32), np.ones(1, np.float32)

    lm = Landmarker(tiny_weights["heatmap"], detector=FullFrameDetector())
    stats = process_video(lm, clip, tmp_path / "out.mp4", min_score=0.0)
    assert stats.frames == 20 and 1 <= stats.detections < 20  # tracking, not detection, on most frames
    assert (tmp_path / "out.mp4").stat().st_size > 1000 and stats.fps > 0
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    xs = [f(np.array([0.0]), 1 / 30)] + [f(np.array([10.0]), 1 / 30) for _ in range(3)]
    assert 0 < xs[1][0] < 10 and xs[1][0] < xs[2][0] < xs[3][0] < 10  # smoothed step response


def test_predict_refine_option(tiny_weights, fixtures, tmp_path):
    """--refine N reaches the Landmarker (it changes the points) and a bad count is refused by argparse."""
    img = fixtures / "300w" / "111076519_1.jpg"
    base = ["predict", str(img), "--weights", str(tiny_weights["heatmap"]), "--detector", "full"]
    pts = {}
    for n in (0, 1):
        assert main(base + ["--out", str(tmp_path / str(n)), "--refine", str(n)]) == 0
        doc = json.loads(next((tmp_path / str(n)).glob("*.json")).read_text())
        pts[n] = np.array(doc["faces"][0]["landmarks"])
    assert pts[0].shape == (68, 2) and np.abs(pts[0] - pts[1]).max() > 0
    with pytest.raises(SystemExit):
        main(base + ["--out", str(tmp_path / "x"), "--refine", "-1"])
