"""tools/package_model.py: a finished run becomes a shipped model file with a measured card."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train import _quiet, small_cfg

from heatmark.api import Landmarker, resolve_weights
from heatmark.checkpoint import load_model, load_tensors, save_tensors, weights_digest
from heatmark.engine.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]


def _package_fixture_run(fixtures, tmp_path, monkeypatch, *extra: str) -> tuple[Path, Path]:
    """A one-epoch fixture run packaged by tools/package_model.py as ``tiny``: (the run, the shipped file)."""
    run = tmp_path / "run"
    Trainer(small_cfg(fixtures, tmp_path, epochs=1), run, progress=False, log=_quiet).fit()
    out = tmp_path / "weights"
    monkeypatch.setattr(sys, "argv", ["package_model.py", str(run), "--name", "tiny", "--label", "fixture run",
                                      "--eval-root", str(fixtures / "300w"), "--out", str(out), *extra])
    try:
        runpy.run_path(str(ROOT / "tools" / "package_model.py"), run_name="__main__")
    except SystemExit as e:
        assert e.code == 0
    return run, out / "tiny.safetensors"


def test_package_writes_fp16_weights_and_a_measured_card(fixtures, tmp_path, monkeypatch, capsys):
    run, shipped = _package_fixture_run(fixtures, tmp_path, monkeypatch, "--docs", str(tmp_path / "docs"))
    tensors, meta = load_tensors(shipped)
    weights = [k for k in tensors if k.endswith(".weight")]
    assert weights and all(tensors[k].dtype == torch.float16 for k in weights)
    assert all(v.dtype == torch.float32 for k, v in tensors.items() if "running_" in k)
    card = json.loads(shipped.with_suffix(".json").read_text())["card"]
    assert card == meta["card"] and card["label"] == "fixture run"
    assert card["training_data"][0]["faces"] == 4 and card["accuracy"]["n"] == 6
    from heatmark.engine.evaluate import evaluate_weights

    again = evaluate_weights(shipped, "300w", fixtures / "300w", device="cpu").metrics  # the card's number, exactly
    assert card["accuracy"]["nme"] == pytest.approx(again["nme"], abs=1e-6)
    assert card["speed"]["ms_per_face"]["torch b1"] > 0
    for f in ("card.json", "curve.png", "metrics.jsonl", "ced.png", "best.png", "worst.png"):
        assert (tmp_path / "docs" / f).is_file(), f
    assert card["speed"]["file_mb"] < (run / "final.safetensors").stat().st_size / 1e6  # half the size

    # the shipped file predicts like the float32 run it came from
    crops = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    a = Landmarker(shipped, detector=None).run_crops(crops)[0]
    b = Landmarker(run / "final.safetensors", detector=None).run_crops(crops)[0]
    assert np.abs(np.asarray(a) - np.asarray(b)).max() < 0.05  # pixels in a 64-px crop
    model, _, _, _ = load_model(shipped)
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_weights_by_name(tmp_path, monkeypatch):
    import heatmark.shipped as api

    (tmp_path / "mixing.safetensors").write_bytes(b"x")
    monkeypatch.setattr(api, "WEIGHTS_DIR", tmp_path)
    assert resolve_weights("mixing") == tmp_path / "mixing.safetensors"
    assert resolve_weights("some/dir/w.safetensors") == Path("some/dir/w.safetensors")
    for name in ("nosuch", None):  # None: the default, which this folder lacks
        with pytest.raises(api.HeatmarkError, match="available: \\['mixing'\\]"):
            resolve_weights(name)


def test_shipped_adapter_by_name_and_mixing_alias(tmp_path, monkeypatch):
    import heatmark.shipped as api

    for name in ("default.safetensors", "synthetic.safetensors", "synthetic.300w-adapter.npz"):
        (tmp_path / name).write_bytes(b"x")
    monkeypatch.setattr(api, "WEIGHTS_DIR", tmp_path)
    assert resolve_weights("mixing") == tmp_path / "default.safetensors"  # the earlier release's name
    assert api.resolve_adapter("300w", tmp_path / "synthetic.safetensors") == tmp_path / "synthetic.300w-adapter.npz"
    assert api.resolve_adapter("my/adapter.npz", tmp_path / "synthetic.safetensors") == Path("my/adapter.npz")
    with pytest.raises(api.HeatmarkError, match="no shipped label adapter '300w' for default.safetensors"):
        api.resolve_adapter("300w", tmp_path / "default.safetensors")


def test_auto_backend_prefers_a_shipped_int8_file(tmp_path, monkeypatch):
    import heatmark.shipped as api

    w = tmp_path / "default.safetensors"
    w.write_bytes(b"x")
    monkeypatch.setattr(api, "WEIGHTS_DIR", tmp_path)
    assert api.shipped_onnx(w) is None
    (tmp_path / "default.onnx").write_bytes(b"x")
    assert api.shipped_onnx(w) == tmp_path / "default.onnx"
    (tmp_path / "default.int8.onnx").write_bytes(b"x")
    assert api.shipped_onnx(w) == tmp_path / "default.int8.onnx"
    assert api.shipped_onnx(Path("elsewhere/default.safetensors")) is None  # only shipped models have one


def test_weights_digest_recipe_is_pinned():
    """Checkpoints and cards store these digests; a refactor that changes the recipe (e.g. hashing the names
    without their ``model.`` prefix, as one did on 2026-12-03) makes every stored record mismatch its file."""
    t = {"model.a.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3),
         "model.bn.num_batches_tracked": torch.tensor(7), "ema.a.weight": torch.zeros(2)}
    assert weights_digest(t) == "7ecd86436d4c7c0c3b28dbe4106682c3a281edee15570ee0be10745f1e26d4b9"


def test_card_records_the_weights_a_run_started_from(fixtures, tmp_path):
    """``model.init``: the card names the starting weights with their digest (metadata-independent) and refuses
    to package when those weights changed since the run started from them."""
    first = tmp_path / "first"
    Trainer(small_cfg(fixtures, tmp_path, epochs=1), first, progress=False, log=_quiet).fit()
    src = first / "final.safetensors"
    tensors, meta = load_tensors(src)
    digest = weights_digest(tensors)
    save_tensors(tmp_path / "copy.safetensors", tensors, {**meta, "card": {"label": "a copy", "seed": 3}})
    assert weights_digest(load_tensors(tmp_path / "copy.safetensors")[0]) == digest  # metadata does not count
    init_record = runpy.run_path(str(ROOT / "tools" / "package_model.py"))["init_record"]
    rec = init_record(str(tmp_path / "copy.safetensors"), {"weights": "x", "sha256": digest})
    assert rec["sha256"] == digest and rec["label"] == "a copy" and rec["seed"] == 3
    from_run = init_record(str(src), None)  # a run's weights: the data of its config
    assert from_run["sha256"] == digest and from_run["training_data"][0]["dataset"] == "facesynthetics"
    changed = {k: (v + 1 if v.is_floating_point() else v) for k, v in tensors.items()}
    save_tensors(tmp_path / "copy.safetensors", changed, meta)
    with pytest.raises(SystemExit, match="changed since the run started"):
        init_record(str(tmp_path / "copy.safetensors"), {"sha256": digest})


def test_requantize_replaces_the_int8_file_and_records_why(fixtures, tmp_path, monkeypatch):
    """tools/requantize_model.py: same weights, a new int8 file (7-bit weights) and card sections for it; the int8
    section's ms stay the packaging's and this machine's timing is recorded apart."""
    _, shipped = _package_fixture_run(fixtures, tmp_path, monkeypatch, "--int8-calibrate", str(fixtures / "300w"))
    out = shipped.parent
    int8 = shipped.with_suffix(".int8.onnx")
    tensors, meta = load_tensors(shipped)
    if not int8.is_file():  # the tiny network's int8 may lose or be slower; the tool needs one to replace
        from heatmark.quantize import quantize_int8

        fp32 = shipped.with_suffix(".onnx")
        quantize_int8(fp32, int8, np.random.default_rng(0).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8))
        fp32.unlink()
    packaged = meta["card"]["int8"]
    tool = runpy.run_path(str(ROOT / "tools" / "requantize_model.py"))
    assert tool["main"](["tiny", "--int8-calibrate", str(fixtures / "300w"), "--eval-root", str(fixtures / "300w"),
                         "--weights-dir", str(out), "--why", "test"]) == 0
    again, meta2 = load_tensors(shipped)
    assert weights_digest(again) == weights_digest(tensors)
    card = meta2["card"]
    assert card["requantized"]["why"] == "test" and card["requantized"]["before"]["nme_int8"] == packaged["nme_int8"]
    assert all(card["int8"][k] == packaged[k] for k in tool["MS_KEYS"])
    assert all(v > 0 for v in card["requantized"]["ms_per_face_this_machine"].values())
    assert json.loads(shipped.with_suffix(".json").read_text())["card"] == card
    assert int8.is_file() == card["int8"]["shipped"]
    if int8.is_file():
        from heatmark.onnx_runtime import OnnxPredictor

        assert OnnxPredictor(int8).meta["quantization"]["weight_range"] == "7-bit"
