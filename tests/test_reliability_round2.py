"""Reliability, round two (issue 21): each failure a hostile user found, with the test that holds its fix."""

from __future__ import annotations

import json
import shutil
import struct
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from heatmark.cli import BUNDLED_PHOTO, main
from heatmark.errors import DataError, HeatmarkError


def _err(capsys) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("heatmark: error")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# 1. threads -------------------------------------------------------------------------------------------------
def test_threads_sharing_one_landmarker_match_one_thread():
    from heatmark.api import Landmarker

    lm = Landmarker()  # the built-in OpenCV detector, which is not thread-safe by itself
    photo = cv2.cvtColor(cv2.imread(str(BUNDLED_PHOTO)), cv2.COLOR_BGR2RGB)
    images = [np.ascontiguousarray(photo[:, i * 80:i * 80 + 640]) for i in range(10)]
    expected = [[f.landmarks for f in lm.predict(im)] for im in images]
    results: dict[tuple[int, int], list] = {}
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i, im in enumerate(images):
                results[(t, i)] = [f.landmarks for f in lm.predict(im)]
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    wrong = sum(len(results[(t, i)]) != len(expected[i]) or any(
        not np.allclose(a, b, atol=1e-3) for a, b in zip(results[(t, i)], expected[i]))
        for t in range(4) for i in range(10))
    assert wrong == 0


# 2. predict --out = the input folder ---------------------------------------------------------------------------
def test_predict_out_equal_to_input_never_overwrites_inputs(tmp_path, capsys):
    d = tmp_path / "photos"
    d.mkdir()
    png = d / "face.png"
    cv2.imwrite(str(png), cv2.imread(str(BUNDLED_PHOTO)))
    before = png.read_bytes()
    assert main(["predict", str(d), "--out", str(d)]) == 2
    assert "would overwrite the input image" in _err(capsys)
    assert png.read_bytes() == before and sorted(p.name for p in d.iterdir()) == ["face.png"]


# 3-4. train into an existing run; resume with another config ----------------------------------------------------
def _train_args(fixtures: Path, tmp: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--train", f"facesynthetics:{fixtures / 'facesynthetics'}", "--no-val", "--out", str(out),
            "--max-steps", "2", "--quiet", "--set", "data.input_size=64", "--set", f"data.cache_dir={tmp / 'cache'}",
            "--set", "data.samples_per_epoch=4", "--set", "data.workers=0", "--set", "optim.batch_size=2",
            "--set", "augment=none", "--set", "model.backbone=mobilenetv3_small", *extra]


def test_train_into_an_existing_run_folder_refuses_without_resume_or_force(fixtures, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_train_args(fixtures, tmp_path, out)) == 0
    log = (out / "metrics.jsonl").read_text()
    capsys.readouterr()
    assert main(_train_args(fixtures, tmp_path, out)) == 2
    msg = _err(capsys)
    assert "already holds a run" in msg and "--resume" in msg and "--force" in msg
    assert (out / "metrics.jsonl").read_text() == log  # nothing was touched
    assert main(_train_args(fixtures, tmp_path, out, "--force")) == 0


def test_resume_with_a_changed_config_refuses_and_names_the_keys(fixtures, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_train_args(fixtures, tmp_path, out)) == 0
    capsys.readouterr()
    assert main(_train_args(fixtures, tmp_path, out, "--resume", "--set", "optim.batch_size=4")) == 2
    assert "optim.batch_size: 2 -> 4" in _err(capsys)
    assert main(_train_args(fixtures, tmp_path, out, "--resume", "--max-steps", "4", "--force")) == 0


# 5. --max-steps 0 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("steps", ["0", "-3"])
def test_max_steps_zero_or_negative_is_refused(fixtures, tmp_path, capsys, steps):
    args = _train_args(fixtures, tmp_path, tmp_path / "run")
    args[args.index("--max-steps") + 1] = steps
    assert main(args) == 2
    assert "optim.max_steps" in _err(capsys)
    assert not (tmp_path / "run").exists()


# 6. coincident eye corners ----------------------------------------------------------------------------------------
def test_coincident_eye_corners_are_excluded_and_named(tiny_weights, fixtures, tmp_path, capsys):
    d = tmp_path / "300w"
    shutil.copytree(fixtures / "300w", d)
    pts = sorted(d.glob("*.pts"))[0]
    lines = pts.read_text().splitlines()
    start = lines.index("{") + 1
    lines[start + 45] = lines[start + 36]  # outer eye corners on one pixel
    pts.write_text("\n".join(lines) + "\n")
    assert main(["eval", "--dataset", "300w", "--root", str(d), "--weights", str(tiny_weights["heatmap"]),
                 "--json", str(tmp_path / "m.json")]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["n"] == 5 and len(m["excluded"]) == 1 and pts.name in m["excluded"][0]
    assert m["nme"] < 1000 and "excluded:" in capsys.readouterr().err


# 7. a local folder named like a shipped model ---------------------------------------------------------------------
def test_shipped_model_name_is_not_shadowed_by_a_local_folder(tmp_path, monkeypatch, capsys):
    from heatmark.api import WEIGHTS_DIR, resolve_weights

    monkeypatch.chdir(tmp_path)
    (tmp_path / "synthetic").mkdir()
    assert resolve_weights("synthetic") == WEIGHTS_DIR / "synthetic.safetensors"
    assert resolve_weights("./synthetic") == Path("./synthetic")
    from heatmark.cli.common import weights

    class A:
        weights = "synthetic"

    assert weights(A) == WEIGHTS_DIR / "synthetic.safetensors"
    assert "the local folder 'synthetic' was not used" in capsys.readouterr().err


# 8. temporaries of a killed checkpoint write ----------------------------------------------------------------------
def test_stale_checkpoint_temporaries_are_removed_on_start(fixtures, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "run"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = out / f".last.safetensors.tmp-{dead.pid}"
    stale.write_bytes(b"\0" * 1000)
    assert main(_train_args(fixtures, tmp_path, out, "--force")) == 0
    assert not stale.exists()


# 9. bad boxes -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("boxes, needle", [
    ([[0, 0, 1e9, 1e9]], "over 8x"),
    ([[np.nan, 0, 50, 50]], "NaN or Inf"),
    ([[0, 0, np.inf, 50]], "NaN or Inf"),
    ([[0, 0, 50]], "4 numbers"),
    ([[5000, 5000, 6000, 6000]], "outside"),
    ([[50, 50, 10, 10]], "no area"),
])
def test_bad_boxes_give_a_clear_error(boxes, needle):
    from heatmark.api import Landmarker

    lm = Landmarker(detector=None)
    with pytest.raises(HeatmarkError, match=needle):
        lm.predict(np.zeros((100, 120, 3), np.uint8), boxes=boxes)


# 10. decompression bombs ------------------------------------------------------------------------------------------
def _png_header_only(path: Path, w: int, h: int) -> None:
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def test_images_over_2_30_pixels_are_refused_before_decoding(tmp_path, capsys):
    from heatmark.data.image_io import read_image

    bomb = tmp_path / "bomb.png"
    _png_header_only(bomb, 40000, 40000)
    with pytest.raises(DataError, match="40000x40000 = 1,600,000,000 pixels, over"):
        read_image(bomb)
    shutil.copy(BUNDLED_PHOTO, tmp_path / "ok.jpg")
    assert main(["predict", str(tmp_path), "--out", str(tmp_path / "out"), "--skip-bad", "--no-images"]) == 0
    assert "bomb.png" in capsys.readouterr().err and (tmp_path / "out" / "ok.json").is_file()


# 11. JPEG with bytes after its end marker ---------------------------------------------------------------------------
def test_jpeg_with_trailing_bytes_is_accepted_and_real_truncation_reported(tmp_path):
    from heatmark.data.image_io import read_image

    data = BUNDLED_PHOTO.read_bytes()
    padded = tmp_path / "padded.jpg"
    padded.write_bytes(data + b"\0" * 5000 + b"trailing junk from a camera")
    assert read_image(padded).shape == read_image(BUNDLED_PHOTO).shape
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated"):
        read_image(cut)


# 13. EXIF orientation -------------------------------------------------------------------------------------------------
def _with_orientation(jpeg: bytes, value: int) -> bytes:
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, value) \
        + struct.pack("<I", 0)
    app1 = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def test_exif_orientation_is_applied_to_photos_and_reported(tmp_path):
    from heatmark.data.image_io import read_image, read_image_info

    img = np.zeros((40, 80, 3), np.uint8)
    img[:, :20] = 255  # a white band on the left of the stored pixels
    ok, buf = cv2.imencode(".jpg", img)
    path = tmp_path / "rotated.jpg"
    path.write_bytes(_with_orientation(buf.tobytes(), 6))  # displayed rotated 90° clockwise
    shown, info = read_image_info(path)
    assert shown.shape == (80, 40, 3) and info == {"exif_orientation": 6, "orientation_applied": True}
    assert shown[:20].mean() > 200 and shown[60:].mean() < 50  # the band is now on top
    assert read_image(path).shape == (40, 80, 3)  # annotated data sets keep their stored pixels
    out = tmp_path / "out"
    assert main(["predict", str(path), "--out", str(out), "--no-images"]) == 0
    doc = json.loads((out / "rotated.json").read_text())
    assert doc["exif_orientation"] == 6 and doc["orientation_applied"] and doc["width"] == 40
