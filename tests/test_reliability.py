"""Messy input through readers, eval, predict and the API; numerical faults; faults during checkpoint writes.

Every input error is one line naming the file (exit code 2 from the CLI, no traceback), or is handled."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from heatmark.checkpoint import load_tensors
from heatmark.data.image_io import read_image
from heatmark.errors import DataError


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "heatmark.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def _assert_one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("heatmark: error")]
    assert len(err) == 1, r.stderr
    for n in needles:
        assert n in err[0], err[0]


def _make_image(path, kind):
    rgb = np.random.default_rng(0).integers(0, 255, (120, 100, 3), dtype=np.uint8)
    if kind == "cmyk":
        from PIL import Image

        Image.fromarray(rgb).convert("CMYK").save(path, "JPEG")
    elif kind == "huge":
        big = cv2.resize(rgb, (12000, 9000), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 50])
    elif kind == "gray":
        cv2.imwrite(str(path), rgb[:, :, 0])
    elif kind == "rgba":
        cv2.imwrite(str(path), np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)]))
    elif kind == "16bit":
        cv2.imwrite(str(path), rgb.astype(np.uint16) * 257)
    return path


@pytest.mark.parametrize("kind", ["cmyk", "gray", "rgba", "16bit", "huge"])
def test_unusual_images_are_handled(tmp_path, kind):
    ext = ".jpg" if kind in ("cmyk", "huge") else ".png"
    img = read_image(_make_image(tmp_path / f"a{ext}", kind))
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    if kind == "huge":
        assert img.shape[:2] == (9000, 12000)


def test_predict_on_unusual_images(tiny_weights, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for kind in ("cmyk", "gray", "rgba", "16bit"):
        _make_image(src / f"{kind}.{'jpg' if kind == 'cmyk' else 'png'}", kind)
    r = _cli("predict", src, "--out", tmp_path / "out", "--weights", tiny_weights["heatmap"], "--detector", "full")
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "out").glob("*.json"))) == 4


@pytest.mark.parametrize("kind,needle", [("empty", "empty (0 bytes)"), ("truncated", "truncated"),
                                         ("text", "cannot decode")])
def test_predict_and_api_bad_image(tiny_weights, fixtures, tmp_path, kind, needle):
    f = tmp_path / "bad.jpg"
    data = (fixtures / "300w" / "111076519_1.jpg").read_bytes()
    f.write_bytes({"empty": b"", "truncated": data[:2000], "text": b"hello, I am text\n"}[kind])
    _assert_one_line_error(_cli("predict", f, "--out", tmp_path / "o", "--weights", tiny_weights["heatmap"]),
                           "bad.jpg", needle)
    from heatmark.api import Landmarker

    with pytest.raises(DataError, match=needle.split(" (")[0]):
        Landmarker(tiny_weights["heatmap"], detector=None).predict(f, boxes=[[0, 0, 10, 10]])


def _pts_dir(fixtures, tmp_path, name, lines):
    d = tmp_path / name
    d.mkdir()
    shutil.copy(fixtures / "300w" / "111076519_1.jpg", d / "a.jpg")
    (d / "a.pts").write_text("\n".join(lines) + "\n")
    return d


@pytest.mark.parametrize("case,needle", [
    ("zero", "no points"), ("67", "expected 68 points, found 67"), ("69", "expected 68 points, found 69"),
    ("nan", "NaN or Inf"), ("inf", "NaN or Inf"), ("text", "non-numeric"), ("far", "far outside"),
])
def test_eval_bad_annotations(tiny_weights, fixtures, tmp_path, case, needle):
    good = [f"{40 + i % 17} {50 + i // 17 * 5}" for i in range(68)]
    lines = {"zero": [], "67": good[:67], "69": good + ["1 1"], "nan": ["nan 1"] + good[1:],
             "inf": ["inf 1"] + good[1:], "text": ["a b"] + good[1:],
             "far": [f"{5000 + i} {6000 + i}" for i in range(68)]}[case]
    d = _pts_dir(fixtures, tmp_path, case, lines)
    r = _cli("eval", "--dataset", "300w", "--root", d, "--weights", tiny_weights["heatmap"])
    _assert_one_line_error(r, "a.pts", needle)


def test_eval_skip_bad_lists_and_continues(tiny_weights, fixtures, tmp_path):
    d = tmp_path / "mixed"
    shutil.copytree(fixtures / "300w", d)
    (d / "1130084326_1.jpg").write_bytes(b"")
    (d / "orphan.pts").write_text((d / "1130084326_2.pts").read_text())
    r = _cli("eval", "--dataset", "300w", "--root", d, "--weights", tiny_weights["heatmap"], "--skip-bad",
             "--json", tmp_path / "e.json")
    assert r.returncode == 0, r.stderr
    assert "orphan.pts" in r.stderr and "1130084326_1.jpg" in r.stderr
    assert json.loads((tmp_path / "e.json").read_text())["n"] == 5
    r = _cli("eval", "--dataset", "300w", "--root", d, "--weights", tiny_weights["heatmap"])
    _assert_one_line_error(r)


@pytest.mark.parametrize("args,needles", [
    (["eval", "--dataset", "300w", "--root", "EMPTY", "--weights", "W"], ["EMPTY", "no .pts annotations found"]),
    (["data", "show", "--dataset", "facesynthetics", "--root", "EMPTY"], ["no FaceSynthetics samples"]),
    (["train", "--config", "CFG"], ["unknown key 'optim.learnig_rate'", "valid keys at optim"]),
    (["train", "--set", "model.backbone=resnet1000", "--train", "facesynthetics:FS", "--no-val"],
     ["unknown backbone 'resnet1000'"]),
    (["predict", "MISSING.jpg", "--out", "OUT", "--weights", "W"], ["MISSING.jpg", "not found"]),
    (["predict", "EMPTY", "--out", "OUT", "--weights", "W"], ["no images in this folder"]),
])
def test_cli_input_errors(tiny_weights, fixtures, tmp_path, args, needles):
    empty = tmp_path / "EMPTY"
    empty.mkdir()
    cfg = tmp_path / "c.yaml"
    cfg.write_text("optim:\n  learnig_rate: 0.1\n")
    sub = {"EMPTY": empty, "CFG": cfg, "FS": fixtures / "facesynthetics", "MISSING.jpg": tmp_path / "MISSING.jpg",
           "OUT": tmp_path / "out", "W": tiny_weights["heatmap"]}
    full = [str(sub.get(a, a)).replace("facesynthetics:FS", f"facesynthetics:{sub['FS']}") for a in args]
    _assert_one_line_error(_cli(*full, "--set", f"data.cache_dir={tmp_path / 'c'}") if args[0] == "train"
                           else _cli(*full), *needles)


def test_unknown_dataset_name_is_a_usage_error(tmp_path):
    r = _cli("eval", "--dataset", "afw", "--root", tmp_path, "--weights", "x")
    assert r.returncode == 2 and "invalid choice: 'afw'" in r.stderr and "Traceback" not in r.stderr


# ---------------------------------------------------------------- numerical faults
def test_nan_loss_stops_with_message_and_keeps_last_good_checkpoint(fixtures, tmp_path):
    from test_train import small_cfg

    from heatmark.engine.trainer import Trainer, TrainingDiverged

    t = Trainer(small_cfg(fixtures, tmp_path, epochs=3), tmp_path / "run", progress=False, log=lambda *a: None)
    real = t._loss
    t._loss = lambda b: real(b) * (float("nan") if t.step == 6 else 1.0)
    with pytest.raises(TrainingDiverged, match="loss became nan at step 6.*last.safetensors.*optim.nan=skip"):
        t.fit()
    _, meta = load_tensors(tmp_path / "run" / "last.safetensors")
    assert meta["epoch"] == 1 and meta["step"] == 4  # the last good checkpoint, from before the NaN


def test_nan_loss_skip_counts_batches(fixtures, tmp_path):
    from test_train import small_cfg

    from heatmark.engine.trainer import Trainer

    t = Trainer(small_cfg(fixtures, tmp_path, epochs=2, extra=["optim.nan=skip"]), tmp_path / "run",
                progress=False, log=lambda *a: None)
    real, calls = t._loss, []

    def faulty(batch):  # the 2nd and 6th batches give Inf
        calls.append(1)
        return real(batch) * (float("inf") if len(calls) in (2, 6) else 1.0)

    t._loss = faulty
    last = t.fit()
    assert last["skipped_batches"] == 2 and np.isfinite(last["train_loss"])


@pytest.mark.slow
def test_kill_during_checkpoint_write_leaves_loadable_files(fixtures, tmp_path):
    """SIGKILL while a checkpoint is being written (held open by a fault-injection delay)."""
    from test_train import _cli_train

    out = tmp_path / "run"
    cmd = _cli_train(fixtures, tmp_path, out, ["--epochs", "3", "--set", "data.samples_per_epoch=4"])
    one_epoch = _cli_train(fixtures, tmp_path, out, ["--epochs", "3", "--max-steps", "2",
                                                     "--set", "data.samples_per_epoch=4"])
    first = subprocess.run(one_epoch, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    env = {**os.environ, "HEATMARK_FAULT_SLOW_SAVE": "5"}
    # --force: the resumed run has a longer budget (--epochs 3 instead of --max-steps 2), a changed config
    p = subprocess.Popen(cmd + ["--resume", "--force"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob(".*.tmp-*")):
        time.sleep(0.05)
    assert list(out.glob(".*.tmp-*")), "no checkpoint write was seen"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    for f in out.glob("*.safetensors"):
        load_tensors(f)
    done = subprocess.run(cmd + ["--resume", "--force"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "last.json").read_text())["epoch"] == 3


# ---------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(x=st.floats(8, 56), y=st.floats(8, 56), sigma=st.floats(1.0, 3.0))
def test_dark_recovers_any_interior_point(x, y, sigma):
    from heatmark.codecs import HeatmapCodec

    codec = HeatmapCodec(input_size=256, stride=4, sigma=sigma)
    p = torch.tensor([[[x * 4, y * 4]]], dtype=torch.float64)
    heat, _ = codec.encode(p)
    q, _ = codec.decode(heat, "dark")
    assert float((q - p).norm() / 4) < 0.05


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 255), st.floats(0, 255)), min_size=1, max_size=5), st.sampled_from([1, 2, 4]))
def test_every_decoder_returns_points_inside_the_input(points, stride):
    from heatmark.codecs import DECODERS, HeatmapCodec

    codec = HeatmapCodec(input_size=256, stride=stride, sigma=2.0)
    heat, _ = codec.encode(torch.tensor([points], dtype=torch.float32))
    for d in DECODERS:
        q, s = codec.decode(heat, d)
        assert q.shape == (1, len(points), 2) and torch.isfinite(q).all()
        assert (q >= -1).all() and (q <= 257).all()
