"""The models shipped in heatmark/weights/: size, card, and that they find landmarks on real faces."""

from __future__ import annotations

import json

import numpy as np
import pytest

from heatmark.api import WEIGHTS_DIR, Landmarker, shipped_models
from heatmark.cli import BUNDLED_PHOTO, main
from heatmark.data.readers import load_dataset

pytestmark = pytest.mark.skipif(not (WEIGHTS_DIR / "default.safetensors").is_file(),
                                reason="no shipped default model (train it with tools/train_default.sh)")


TIERS = ["default", "synthetic", "fast"]


@pytest.mark.parametrize("name", TIERS)
def test_shipped_file_and_card(name):
    path = WEIGHTS_DIR / f"{name}.safetensors"
    onnx = path.with_suffix(".int8.onnx") if path.with_suffix(".int8.onnx").is_file() else path.with_suffix(".onnx")
    assert path.stat().st_size <= 25e6 and onnx.stat().st_size <= 25e6
    card = json.loads(path.with_suffix(".json").read_text())["card"]
    for key in ("label", "training_data", "commit", "accuracy", "accuracy_detector_boxes", "speed", "train_command",
                "int8"):
        assert card[key], key
    data = {e["dataset"] for e in card["training_data"]}
    # synthetic: no real landmark labels; its real photos come only as pseudo-labels (coco JSON by a teacher);
    # default and fast: their last stage's real labels (earlier stages' data: the card's initialised_from)
    expected = {"synthetic": {"facesynthetics", "coco"}}.get(name, {"300w"})
    assert data == expected
    if name != "synthetic":
        assert card["initialised_from"]["training_data"]  # what the stage it started from saw
    assert card["accuracy"]["n"] == 337 and card["speed"]["ms_per_face"]["onnx b1"] > 0
    assert path.with_suffix(".int8.onnx").is_file() == card["int8"]["shipped"]


def test_default_is_used_without_weights_and_finds_the_sample_face(tmp_path):
    assert set(TIERS) <= set(shipped_models())
    assert main(["predict", "--out", str(tmp_path)]) == 0  # the bundled photo
    doc = json.loads((tmp_path / f"{BUNDLED_PHOTO.stem}.json").read_text())
    # four AFW faces side by side; MTCNN may also report a partial face at a portrait's edge, less confidently
    faces = [f for f in doc["faces"] if f["detection_score"] > 0.99]
    assert doc["weights"].endswith("default.safetensors") and len(faces) == 4
    for face in faces:
        pts = np.array(face["landmarks"])
        x1, y1, x2, y2 = face["box"]
        m = 0.2 * (x2 - x1)
        assert ((pts[:, 0] > x1 - m) & (pts[:, 0] < x2 + m) & (pts[:, 1] > y1 - m) & (pts[:, 1] < y2 + 2 * m)).all()
        # a face, not noise: eyes above the nose tip above the mouth above the chin; left eye left of right eye
        eyes_y, nose_y, mouth_y, chin_y = pts[36:48, 1].mean(), pts[33, 1], pts[48:68, 1].mean(), pts[8, 1]
        assert eyes_y < nose_y < mouth_y < chin_y
        assert pts[36:42, 0].mean() < pts[42:48, 0].mean()
    assert (tmp_path / f"{BUNDLED_PHOTO.stem}.png").is_file()


# % on the 6 fixture faces (shipped files), measured when shipped; default and synthetic since their int8 files got
# 7-bit weights (2026-12-03, AMD EPYC), which CPUs with and without VNNI compute alike (full-range: 3.43 vs 3.35)
FIXTURE_NME = {"default": 3.1566, "synthetic": 6.3157, "fast": 3.8711}


@pytest.mark.parametrize("name", TIERS)
def test_shipped_models_on_fixture_faces(fixtures, name):
    """GT-box landmarks on the 300W fixture faces (real photos): the NME recorded for the shipped file, within
    0.02 points (float differences between CPUs are far smaller; a changed model or pipeline is not)."""
    from heatmark.engine.metrics import nme

    records = load_dataset("300w", fixtures / "300w")
    lm = Landmarker(name, detector=None)
    pred = np.stack([lm.predict(r.load_image(), boxes=[_gt_box(r.landmarks)])[0].landmarks for r in records])
    gt = np.stack([r.landmarks for r in records])
    assert float(np.mean(nme(pred, gt, lm.scheme))) * 100 == pytest.approx(FIXTURE_NME[name], abs=0.02)


def _gt_box(p):
    return [p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()]


@pytest.mark.shared
@pytest.mark.parametrize("name", TIERS)
def test_card_accuracy_is_what_eval_prints(shared, tmp_path, name):
    """The NME on the card (and in the README) is exactly what `heatmark eval` gives on AFW."""
    card = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())["card"]
    args = ["eval", "--dataset", "300w", "--root", str(shared / "300w_afw"), "--json", str(tmp_path / "e.json")]
    assert main(args + ([] if name == "default" else ["--weights", name])) == 0
    res = json.loads((tmp_path / "e.json").read_text())
    assert res["n"] == 337 and res["nme"] == pytest.approx(card["accuracy"]["nme"], abs=1e-6)


def test_models_command_lists_the_shipped_models_from_their_cards(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    card = json.loads((WEIGHTS_DIR / "default.json").read_text())["card"]
    assert "default" in out and "synthetic" in out and f"{card['accuracy']['nme']:.2f}" in out
    assert "← synthetic)" in out  # default's starting weights (and theirs) are part of what it learned from
    assert main(["models", "--json"]) == 0
    cards = json.loads(capsys.readouterr().out)
    assert {c["name"] for c in cards} == set(TIERS)


def test_synthetic_ships_its_label_adapter_and_mixing_means_default():
    from heatmark.api import resolve_weights

    assert resolve_weights("mixing") == WEIGHTS_DIR / "default.safetensors"
    plain = Landmarker("synthetic", detector=None).predict(str(BUNDLED_PHOTO), boxes=[[40, 30, 290, 290]])[0]
    adapted = Landmarker("synthetic", adapter="300w", detector=None).predict(str(BUNDLED_PHOTO),
                                                                             boxes=[[40, 30, 290, 290]])[0]
    moved = np.linalg.norm(adapted.landmarks - plain.landmarks, axis=1)
    assert adapted.landmarks.shape == (68, 2) and 0 < moved.mean() < 20  # a correction, not a different face


def test_refine_recovers_from_loose_boxes(fixtures):
    """Boxes shifted right and up by 20–25 % of the face and too wide: one refinement pass takes the default model
    back to within 0.3 points of its ground-truth-box NME on the fixture faces (measured 5.70 → 3.08; GT 3.16)."""
    from heatmark.engine.metrics import nme

    records = load_dataset("300w", fixtures / "300w")
    gt = np.stack([r.landmarks for r in records])

    def loose(p):
        (x1, y1), (x2, y2) = p.min(0), p.max(0)
        s = x2 - x1
        return [x1 + 0.25 * s, y1 - 0.2 * s, x2 + 0.6 * s, y2]

    err = {}
    for refine in (0, 1):
        lm = Landmarker("default", detector=None, refine=refine)
        pred = np.stack([lm.predict(r.load_image(), boxes=[loose(r.landmarks)])[0].landmarks for r in records])
        err[refine] = float(np.mean(nme(pred, gt, lm.scheme))) * 100
    assert err[0] > FIXTURE_NME["default"] + 1.0
    assert err[1] < FIXTURE_NME["default"] + 0.3


def test_eval_refine_is_the_landmarker_s_refinement(fixtures, tmp_path):
    """`heatmark eval --refine 1` (GT boxes): the first pass on the ground-truth crops, then the pass Landmarker
    makes from those points; the same numbers as Landmarker(refine=1) given the ground-truth crop."""
    from heatmark.data.crops import box_from_landmarks
    from heatmark.engine.metrics import nme

    onnx = WEIGHTS_DIR / "default.int8.onnx"
    args = ["eval", "--dataset", "300w", "--root", str(fixtures / "300w"), "--weights", str(onnx)]
    assert main(args + ["--refine", "1", "--json", str(tmp_path / "r.json")]) == 0
    res = json.loads((tmp_path / "r.json").read_text())
    records = load_dataset("300w", fixtures / "300w")
    lm = Landmarker(onnx, detector=None, refine=1)
    pred = np.stack([lm.predict_boxes(r.load_image(), [box_from_landmarks(r.landmarks, lm.box_scale)])[0][0]
                     for r in records])
    expected = float(np.mean(nme(pred, np.stack([r.landmarks for r in records]), lm.scheme))) * 100
    assert res["refine"] == 1 and res["nme"] == pytest.approx(expected, abs=1e-4)
    with pytest.raises(SystemExit):
        main(args + ["--refine", "6"])


def test_refine_study_tool_writes_its_table(fixtures, tmp_path):
    """tools/refine_study.py on the fixture faces: one row per model and boxes, every variant a number (the
    roll-kept column only for MTCNN), the plain cell equal to `heatmark eval`'s NME, the command in the table."""
    import subprocess
    import sys
    from pathlib import Path

    from heatmark.engine.evaluate import evaluate_weights

    tool = Path(__file__).parents[1] / "tools" / "refine_study.py"
    r = subprocess.run([sys.executable, str(tool), "--root", str(fixtures / "300w"), "--models", "fast", "--boxes",
                        "gt", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert [x["variant"] for x in results] == ["plain", "refine 1", "refine 2", "flip", "refine 1 + flip"]
    plain = evaluate_weights(WEIGHTS_DIR / "fast.onnx", "300w", fixtures / "300w").metrics["nme"]
    assert results[0]["nme"] == pytest.approx(plain, abs=1e-3)
    table = (tmp_path / "table.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| fast | gt |"))
    assert row.count("|") == 10 and row.rstrip(" |").endswith("—") and "--boxes gt" in table
