"""heatmark viz: heatmaps, filters, training curves and CED plots are written and not blank."""

import json

import cv2
import numpy as np
import pytest

from heatmark.cli import BUNDLED_PHOTO, main


def _not_blank(path, min_side=150):
    img = cv2.imread(str(path))
    assert img is not None and min(img.shape[:2]) >= min_side
    assert img.std() > 5 and len(np.unique(img.reshape(-1, 3), axis=0)) > 20  # real content, not one colour


def test_viz_heatmaps_filters_curves_and_ced(tiny_weights, fixtures, tmp_path):
    w = str(tiny_weights["heatmap"])
    assert main(["viz", "heatmaps", str(BUNDLED_PHOTO), "--weights", w, "--box", "40", "30", "290", "290",
                 "--out", str(tmp_path)]) == 0
    _not_blank(tmp_path / "heatmaps.png", 400)
    assert main(["viz", "filters", "--weights", w, "--out", str(tmp_path)]) == 0
    _not_blank(tmp_path / "filters.png", 100)
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e, "train_loss": 1 / e, "val_nme": 10 - e}) + "\n"
                                               for e in range(1, 6)))
    assert main(["viz", "curves", str(run), "--out", str(tmp_path)]) == 0
    _not_blank(tmp_path / "curves.png")
    assert main(["eval", "--dataset", "300w", "--root", str(fixtures / "300w"), "--weights", w, "--json",
                 str(tmp_path / "a.json")]) == 0
    doc = json.loads((tmp_path / "a.json").read_text())
    assert len(doc["per_image_nme"]) == doc["n"]
    assert main(["viz", "ced", str(tmp_path / "a.json"), str(tmp_path / "a.json"), "--out", str(tmp_path)]) == 0
    _not_blank(tmp_path / "ced.png")


@pytest.mark.parametrize("args, needle", [
    (["viz", "curves", "nowhere"], "no metrics.jsonl"),
    (["viz", "ced", "missing.json"], "result JSON not found"),
])
def test_viz_bad_input_is_one_line(args, needle, capsys, tmp_path):
    assert main([*args, "--out", str(tmp_path)]) == 2
    assert needle in capsys.readouterr().err


def test_viz_heatmaps_refuses_a_regressor(tiny_weights, tmp_path, capsys):
    assert main(["viz", "heatmaps", str(BUNDLED_PHOTO), "--weights", str(tiny_weights["regression"]), "--box",
                 "40", "30", "290", "290", "--out", str(tmp_path)]) == 2
    assert "needs a heatmap model" in capsys.readouterr().err
