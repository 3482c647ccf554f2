"""Bad input gets a clear error naming the file (and, with skip_bad, is listed and skipped)."""

import shutil

import cv2
import numpy as np
import pytest

from heatmark.data.image_io import read_image
from heatmark.data.readers import load_dataset, read_pts
from heatmark.errors import DataError


@pytest.fixture
def w300(fixtures, tmp_path):
    d = tmp_path / "w"
    shutil.copytree(fixtures / "300w", d)
    return d


def _pts_lines(path):
    return path.read_text().splitlines()


def test_pts_with_67_points(w300):
    f = w300 / "111076519_1.pts"
    lines = _pts_lines(f)
    f.write_text("\n".join(lines[:3] + lines[4:]) + "\n")  # header still says 68
    with pytest.raises(DataError, match=r"111076519_1\.pts.*n_points: 68.*67"):
        load_dataset("300w", w300)
    f.write_text("\n".join(["version: 1", "n_points: 67"] + lines[2:3] + lines[4:]) + "\n")
    with pytest.raises(DataError, match=r"111076519_1\.pts: expected 68 points, found 67"):
        load_dataset("300w", w300)


def test_pts_with_69_and_0_points(tmp_path):
    f = tmp_path / "a.pts"
    f.write_text("\n".join(["1 2"] * 69))
    with pytest.raises(DataError, match="expected 68 points, found 69"):
        read_pts(f, 68)
    f.write_text("version: 1\nn_points: 0\n{\n}\n")
    with pytest.raises(DataError, match="no points"):
        read_pts(f)


@pytest.mark.parametrize("bad,match", [("12.5 abc", "line 5: non-numeric"), ("nan 3", "NaN or Inf"),
                                       ("1 2 3", "expected 'x y'")])
def test_pts_bad_line(w300, bad, match):
    f = w300 / "111076519_1.pts"
    lines = _pts_lines(f)
    lines[4] = bad
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"111076519_1\.pts.*" + match):
        load_dataset("300w", w300)


def test_annotation_without_image_and_image_without_annotation(w300):
    (w300 / "111076519_1.jpg").unlink()
    with pytest.raises(DataError, match=r"111076519_1\.pts: annotation has no image"):
        load_dataset("300w", w300)
    recs = load_dataset("300w", w300, skip_bad=True)
    assert len(recs) == 5 and len(recs.skipped) == 1 and "111076519_1.pts" in str(recs.skipped[0])
    (w300 / "111076519_1.pts").unlink()
    (w300 / "1130084326_1.pts").unlink()
    with pytest.raises(DataError, match=r"1130084326_1\.jpg: image has no .pts annotation"):
        load_dataset("300w", w300, skip_bad=False)


@pytest.mark.parametrize("kind", ["empty", "truncated", "text", "png_truncated"])
def test_broken_images(w300, kind):
    f = w300 / "111076519_1.jpg"
    data = f.read_bytes()
    if kind == "empty":
        f.write_bytes(b"")
        match = "empty"
    elif kind == "truncated":
        f.write_bytes(data[: len(data) // 2])
        match = "truncated"
    elif kind == "text":
        f.write_text("this is not a picture\n")
        match = "cannot decode"
    else:
        ok, buf = cv2.imencode(".png", cv2.imread(str(f)))
        f = f.with_suffix(".png")
        f.write_bytes(buf.tobytes()[:-100])
        match = "truncated"
    with pytest.raises(DataError, match=rf"{f.name}.*{match}"):
        read_image(f)


def test_missing_image_file(tmp_path):
    with pytest.raises(DataError, match="image file not found"):
        read_image(tmp_path / "nope.jpg")


@pytest.mark.parametrize("kind", ["gray", "rgba", "16bit"])
def test_unusual_image_types_read_as_rgb8(tmp_path, kind):
    rgb = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    bgr = rgb[:, :, ::-1]
    if kind == "gray":
        img, f = bgr[:, :, 0], tmp_path / "a.png"
    elif kind == "rgba":
        img, f = np.dstack([bgr, np.full((20, 30), 255, np.uint8)]), tmp_path / "a.png"
    else:
        img, f = bgr.astype(np.uint16) * 257, tmp_path / "a.png"
    cv2.imwrite(str(f), img)
    out = read_image(f)
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    if kind != "gray":
        np.testing.assert_array_equal(out, rgb)


def test_facesynthetics_image_without_ldmks(fixtures, tmp_path):
    d = tmp_path / "fs"
    shutil.copytree(fixtures / "facesynthetics", d)
    (d / "000002_ldmks.txt").unlink()
    with pytest.raises(DataError, match=r"000002\.png: image has no landmark file 000002_ldmks\.txt"):
        load_dataset("facesynthetics", d)
    assert len(load_dataset("facesynthetics", d, skip_bad=True)) == 3


def test_empty_folder_and_unknown_dataset(tmp_path):
    with pytest.raises(DataError, match="no .pts annotations found"):
        load_dataset("300w", tmp_path)
    with pytest.raises(DataError, match="unknown dataset 'afw'.*valid names"):
        load_dataset("afw", tmp_path)
    with pytest.raises(DataError, match="folder not found"):
        load_dataset("facesynthetics", tmp_path / "missing")
