"""Face filters: overlays land where their targets say, own PNG + YAML works, bad overlays are one-line errors."""

import cv2
import numpy as np
import pytest

from heatmark.cli import BUNDLED_PHOTO, main
from heatmark.filters import BUILTIN, load_overlay


def _face(scale=1.0, angle=0.0, centre=(200.0, 200.0)) -> np.ndarray:
    """A synthetic 68-point layout: eyes level, 60 px apart at scale 1, rotated by ``angle`` degrees."""
    rng = np.random.default_rng(0)
    pts = rng.uniform(-40, 40, (68, 2))
    pts[36:42] = [-30, 0] + rng.uniform(-5, 5, (6, 2))
    pts[42:48] = [30, 0] + rng.uniform(-5, 5, (6, 2))
    pts[36], pts[45] = [-40, 0], [40, 0]
    a = np.deg2rad(angle)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (pts * scale) @ r.T + centre


@pytest.mark.parametrize("scale, angle", [(1.0, 0.0), (1.7, 25.0), (0.6, -40.0)])
def test_glasses_anchors_land_on_the_eye_centres(scale, angle):
    ov = load_overlay("glasses")
    face = _face(scale, angle)
    m = ov.place(face)
    placed = ov.anchors @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(placed, [face[36:42].mean(0), face[42:48].mean(0)], atol=1e-6)


def test_every_builtin_overlay_draws_on_the_face():
    face = _face(2.0)
    img = np.full((400, 400, 3), 128, np.uint8)
    for name in BUILTIN:
        out = load_overlay(name).apply(img, face)
        changed = np.abs(out.astype(int) - img).sum(2) > 10
        assert changed.sum() > 500, name
        ys, xs = np.nonzero(changed)
        assert 100 < xs.mean() < 300, name  # centred on the face, not somewhere else


def test_own_png_and_yaml(tmp_path):
    png = np.zeros((50, 100, 4), np.uint8)
    png[10:40, 10:90] = (255, 0, 0, 255)
    cv2.imwrite(str(tmp_path / "bar.png"), png)
    (tmp_path / "bar.yaml").write_text("image: bar.png\nanchors: [[10, 25], [90, 25]]\n"
                                       "targets:\n  - {points: [36]}\n  - {points: [45]}\n")
    ov = load_overlay(tmp_path / "bar.yaml")
    face = _face()
    out = ov.apply(np.zeros((400, 400, 3), np.uint8), face)
    y = int(round(face[36, 1]))
    assert out[y, int(face[36, 0]) + 5:int(face[45, 0]) - 5, 2].min() > 200  # the bar spans the eye corners (BGR red)


@pytest.mark.parametrize("content, needle", [
    ("image: x.png\nanchors: [[1, 2]]\ntargets: []\n", "not a valid overlay description"),
    ("image: missing.png\nanchors: [[0, 0], [1, 1]]\ntargets: [{points: [36]}, {points: [45]}]\n", "not found"),
    ("image: x.png\nanchors: [[0, 0], [1, 1]]\ntargets: [{points: [36]}, {points: [99]}]\n", "0-67"),
    (": : :\n", "not a valid overlay description"),
])
def test_bad_overlay_files_exit_2(content, needle, tmp_path, capsys):
    (tmp_path / "o.yaml").write_text(content)
    args = ["filter", str(BUNDLED_PHOTO), "--overlay", str(tmp_path / "o.yaml"), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    assert needle in capsys.readouterr().err


def test_png_without_alpha_and_unknown_names(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "rgb.png"), np.zeros((10, 10, 3), np.uint8))
    (tmp_path / "o.yaml").write_text("image: rgb.png\nanchors: [[0, 0], [9, 0]]\n"
                                     "targets: [{points: [36]}, {points: [45]}]\n")
    assert main(["filter", str(BUNDLED_PHOTO), "--overlay", str(tmp_path / "o.yaml")]) == 2
    assert "no alpha channel" in capsys.readouterr().err
    assert main(["filter", str(BUNDLED_PHOTO), "--overlay", "sombrero"]) == 2
    assert "unknown overlay 'sombrero'" in capsys.readouterr().err


def test_filter_photos_and_video(tmp_path):
    assert main(["filter", str(BUNDLED_PHOTO), "--overlay", "glasses", "--out", str(tmp_path / "p")]) == 0
    out = cv2.imread(str(tmp_path / "p" / "photo.png"))
    assert out is not None and np.abs(out.astype(int) - cv2.imread(str(BUNDLED_PHOTO)).astype(int)).mean() > 0.5
    frame = cv2.imread(str(BUNDLED_PHOTO))[:, :640]
    vid = tmp_path / "clip.mp4"
    w = cv2.VideoWriter(str(vid), cv2.VideoWriter_fourcc(*"mp4v"), 10, (frame.shape[1], frame.shape[0]))
    for _ in range(4):
        w.write(frame)
    w.release()
    assert main(["filter", "--video", str(vid), "--overlay", "hat", "--out", str(tmp_path / "v.mp4")]) == 0
    cap = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    assert cap.read()[0]
