"""5-point data: CUHK and MTFL lists, the face5 scheme, and 68 → 5 conversion for training and evaluation."""

import json
import shutil

import numpy as np
import pytest

from heatmark.cli import main
from heatmark.data.readers import load_dataset
from heatmark.data.schemes import FACE5, convert_points
from heatmark.errors import DataError


def test_cuhk_and_mtfl_lists_read_the_same_faces(fixtures):
    cuhk = load_dataset("cuhk", fixtures / "cuhk" / "trainImageList.txt")
    mtfl = load_dataset("mtfl", fixtures / "cuhk" / "training.txt")
    assert len(cuhk) == len(mtfl) == 4 and cuhk[0].scheme is FACE5
    assert cuhk[2].image_path.parent.name == "net_7876" and cuhk[2].image_path.is_file()  # backslash paths
    np.testing.assert_allclose(cuhk[0].landmarks, mtfl[0].landmarks, atol=0.01)  # all-x-first vs interleaved
    assert cuhk[0].box is not None and mtfl[0].box is None
    # the lists are 1-based: the reader gives back the 68-point annotation's eye centres, nose, mouth corners
    r68 = load_dataset("300w", fixtures / "300w")
    expect = convert_points(r68[0].landmarks.astype(np.float64), "ibug68", "face5")
    np.testing.assert_allclose(cuhk[0].landmarks, expect, atol=1e-4)
    assert cuhk[0].landmarks[0, 0] < cuhk[0].landmarks[1, 0]  # the subject's right eye is on the image's left


def test_missing_image_and_bad_line_name_the_file(fixtures, tmp_path):
    shutil.copytree(fixtures / "cuhk", tmp_path / "cuhk")
    lst = tmp_path / "cuhk" / "trainImageList.txt"
    lines = lst.read_text().splitlines()
    lst.write_text("\n".join([lines[0], "lfw_5590\\nobody.jpg" + lines[1].split(".jpg", 1)[1]]) + "\n")
    with pytest.raises(DataError, match="nobody.jpg: image named on line 2 of trainImageList.txt not found"):
        load_dataset("cuhk", lst)
    assert len(load_dataset("cuhk", lst, skip_bad=True)) == 1
    lst.write_text(lines[0] + " 7\n")
    with pytest.raises(DataError, match="line 1: not a CUHK line"):
        load_dataset("cuhk", lst)
    with pytest.raises(DataError, match="list file not found"):
        load_dataset("mtfl", tmp_path / "none.txt")


def test_face5_scheme_flips_and_normalises_by_eye_centres():
    assert FACE5.flip_index.tolist() == [1, 0, 2, 4, 3]
    pts = np.array([[[10, 20], [50, 20], [30, 40], [15, 55], [45, 55]]], float)
    assert FACE5.norm_distance(pts)[0] == 40


def test_eval_of_a_68_point_model_on_a_5_point_list(tiny_weights, fixtures, tmp_path, capsys):
    assert main(["eval", "--dataset", "cuhk", "--root", str(fixtures / "cuhk" / "trainImageList.txt"), "--weights",
                 str(tiny_weights["heatmap"]), "--json", str(tmp_path / "m.json")]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["scheme"] == "face5" and m["n"] == 4 and np.isfinite(m["nme"])
    assert "face5" in capsys.readouterr().out


def test_a_5_point_model_trains_from_68_point_data(fixtures, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--train", f"300w:{fixtures / '300w'}", "--val", f"cuhk:{fixtures / 'cuhk' / 'training.txt'}",
                 "--out", str(out), "--max-steps", "2", "--quiet", "--set", "data.scheme=face5",
                 "--set", "data.input_size=64", "--set", f"data.cache_dir={tmp_path / 'c'}", "--set", "data.workers=0",
                 "--set", "data.samples_per_epoch=4", "--set", "optim.batch_size=2", "--set", "augment=none",
                 "--set", "model.backbone=mobilenetv3_small"]) == 0
    from heatmark.checkpoint import load_model

    _, _, scheme, _ = load_model(out / "final.safetensors")
    assert scheme.name == "face5" and scheme.num_points == 5


def test_68_point_data_read_as_5_points_converts_on_load(fixtures):
    """``--scheme face5`` on a 300W folder: the 68 points are read, then reduced (eye centres = mean of the six eye
    points, nose tip 30, mouth corners 48 and 54), so a 68-point model can be scored in 5 points."""
    full = load_dataset("300w", fixtures / "300w")
    five = load_dataset("300w", fixtures / "300w", scheme="face5")
    assert len(five) == len(full) and five[0].scheme.name == "face5" and five[0].landmarks.shape == (5, 2)
    p = full[0].landmarks
    want = np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])
    assert np.allclose(five[0].landmarks, want, atol=1e-5)
    with pytest.raises(DataError, match="expected 98 points, found 68"):
        load_dataset("300w", fixtures / "300w", scheme="wflw98")  # no 68 -> 98 conversion: read as 98, refused
