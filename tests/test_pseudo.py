"""Self-training pseudo-labels: annotation files beside the photos are never opened; the JSON trains as coco."""

import json
import shutil

import numpy as np

from heatmark.cli import BUNDLED_PHOTO, main


def test_pseudo_labels_never_open_annotations_and_load_as_a_source(tiny_weights, fixtures, tmp_path, opened_files):
    photos = tmp_path / "photos"
    shutil.copytree(fixtures / "300w", photos)
    shutil.copy(BUNDLED_PHOTO, photos / "group.jpg")
    (photos / "group.pts").write_text("version: 1\nn_points: 68\n{\n}\n")  # a label that must stay unread
    out = tmp_path / "pseudo" / "labels.json"
    with opened_files as rec:
        rc = main(["pseudo-label", str(photos), "--weights", str(tiny_weights["heatmap"]), "--out", str(out),
                   "--keep", "1.0"])
    opened = list(rec.paths)
    assert rc == 0
    assert not [p for p in opened if p.endswith(".pts")], "an annotation file was opened"
    assert any(p.endswith("group.jpg") for p in opened)
    doc = json.loads(out.read_text())
    assert doc["info"]["heatmark_pseudo_labels"] and doc["info"]["kept"] == len(doc["annotations"]) >= 1
    from heatmark.data.readers import load_dataset

    recs = load_dataset("coco", out)
    assert len(recs) == len(doc["annotations"])
    first = np.asarray(doc["annotations"][0]["keypoints"]).reshape(-1, 3)[:, :2]
    np.testing.assert_allclose(recs[0].landmarks, first, atol=1e-3)  # heatmark coordinates: no offset
    assert recs[0].image_path.resolve().parent == photos.resolve()
    from heatmark.engine.pseudo import is_pseudo_labels, trains_on_real_labels

    real_coco = tmp_path / "real.json"  # a COCO-style file of real annotations: no pseudo-label info
    real_coco.write_text(json.dumps({"images": [], "annotations": []}))
    assert is_pseudo_labels(out) and not is_pseudo_labels(real_coco) and not is_pseudo_labels(tmp_path / "none")
    synth = {"dataset": "facesynthetics", "root": "x"}
    assert not trains_on_real_labels([synth, {"dataset": "coco", "root": str(out)}])
    assert trains_on_real_labels([synth, {"dataset": "coco", "root": str(real_coco)}])
    assert trains_on_real_labels([{"dataset": "300w", "root": "y"}])


def test_keep_must_be_a_share(tiny_weights, tmp_path, capsys):
    rc = main(["pseudo-label", str(tmp_path), "--weights", str(tiny_weights["heatmap"]), "--out",
               str(tmp_path / "x.json"), "--keep", "0"])
    assert rc == 2 and "keep must be in (0, 1]" in capsys.readouterr().err
