"""heatmark.Landmarker: inputs, boxes, flip TTA, weights checks (untrained tiny models: mechanics only)."""

import json

import cv2
import numpy as np
import pytest

from heatmark.api import Landmarker, as_rgb
from heatmark.checkpoint import load_model
from heatmark.errors import DataError, HeatmarkError


@pytest.fixture(scope="module")
def image(fixtures):
    from heatmark.data.image_io import read_image

    return read_image(fixtures / "300w" / "111076519_1.jpg")


@pytest.mark.parametrize("head", ["heatmap", "regression"])
def test_predict_with_boxes(tiny_weights, image, head):
    lm = Landmarker(tiny_weights[head], detector=None)
    faces = lm.predict(image, boxes=[[20, 30, 120, 130], [0, 0, 60, 60]])
    assert len(faces) == 2
    f = faces[0]
    assert f.landmarks.shape == (68, 2) and f.scores.shape == (68,)
    # predictions live inside (a margin around) the crop of the given box
    assert (f.landmarks > -20).all() and (f.landmarks < 160).all()
    d = f.to_dict()
    assert len(d["landmarks"]) == 68 and d["detection_score"] is None
    json.dumps(d)


def test_input_types_agree(tiny_weights, image, fixtures, tmp_path):
    from PIL import Image

    lm = Landmarker(tiny_weights["heatmap"], detector=None)
    box = [[20, 30, 120, 130]]
    ref = lm.predict(image, boxes=box)[0].landmarks
    bgr = np.ascontiguousarray(image[:, :, ::-1])
    np.testing.assert_allclose(lm.predict(bgr, boxes=box, color="bgr")[0].landmarks, ref)
    np.testing.assert_allclose(lm.predict(Image.fromarray(image), boxes=box)[0].landmarks, ref)
    np.testing.assert_allclose(lm.predict(fixtures / "300w" / "111076519_1.jpg", boxes=box)[0].landmarks, ref)
    grey = lm.predict(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), boxes=box)
    assert grey[0].landmarks.shape == (68, 2)
    with pytest.raises(HeatmarkError, match="color"):
        lm.predict(image, boxes=box, color="hsv")
    with pytest.raises(DataError, match="image array"):
        as_rgb(np.zeros((3,)))


@pytest.mark.parametrize("head", ["heatmap", "regression"])
def test_flip_tta_is_equivariant(tiny_weights, image, head):
    """With flip TTA, predicting on a mirrored image gives exactly the mirrored prediction."""
    lm = Landmarker(tiny_weights[head], detector=None, flip=True)
    h, w = image.shape[:2]
    box = np.array([20.0, 30, 120, 130])
    mirrored_box = np.array([w - box[2], box[1], w - box[0], box[3]])
    a = lm.predict(image, boxes=[box])[0].landmarks
    b = lm.predict(np.ascontiguousarray(image[:, ::-1]), boxes=[mirrored_box])[0].landmarks
    b_back = b[lm.scheme.flip_index].copy()
    b_back[:, 0] = w - b_back[:, 0]
    np.testing.assert_allclose(a, b_back, atol=2e-3)


def test_no_detector_no_boxes(tiny_weights, image):
    with pytest.raises(HeatmarkError, match="no detector"):
        Landmarker(tiny_weights["heatmap"], detector=None).predict(image)


def test_weights_checks(tiny_weights, tmp_path):
    with pytest.raises(HeatmarkError, match=r"expected a model with num_points=98, found num_points=68"):
        load_model(tiny_weights["heatmap"], expect={"num_points": 98})
    with pytest.raises(HeatmarkError, match="expected a model with head='regression', found head='heatmap'"):
        load_model(tiny_weights["heatmap"], expect={"head": "regression"})
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(tiny_weights["heatmap"].read_bytes()[:1000])
    with pytest.raises(DataError, match="cut.safetensors: not a readable safetensors"):
        Landmarker(bad)
    with pytest.raises(DataError, match="weights file not found"):
        Landmarker(tmp_path / "none.safetensors")


def test_weights_for_another_architecture(tiny_weights, tmp_path):
    """A file whose description does not match its tensors fails with both named."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    t = load_file(str(tiny_weights["regression"]))
    with safe_open(str(tiny_weights["regression"]), "pt") as f:
        meta = json.loads(f.metadata()["heatmark"])
    meta["model"]["backbone"] = "resnet18"
    bad = tmp_path / "mismatch.safetensors"
    save_file(t, str(bad), metadata={"heatmark": json.dumps(meta)})
    with pytest.raises(HeatmarkError, match="do not fit the architecture"):
        load_model(bad)


def test_onnx_backend_matches_torch(tiny_weights, image, tmp_path):
    pytest.importorskip("onnxruntime")
    box = [[20, 30, 120, 130]]
    t = Landmarker(tiny_weights["heatmap"], detector=None).predict(image, boxes=box)[0]
    o = Landmarker(tiny_weights["heatmap"], detector=None, backend="onnx",
                   onnx_path=tmp_path / "m.onnx").predict(image, boxes=box)[0]
    np.testing.assert_allclose(o.landmarks, t.landmarks, atol=1e-3)
    np.testing.assert_allclose(o.scores, t.scores, atol=1e-4)


def test_rgb_uint8_arrays_are_not_copied_and_bgr_is_converted():
    """The common case (an RGB uint8 photo) costs no copy; BGR and RGBA still convert."""
    from heatmark.api import as_rgb

    rgb = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    assert np.shares_memory(as_rgb(rgb), rgb)
    np.testing.assert_array_equal(as_rgb(rgb[:, :, ::-1], color="bgr"), rgb)
    rgba = np.concatenate([rgb, np.full((40, 60, 1), 255, np.uint8)], 2)
    np.testing.assert_array_equal(as_rgb(rgba), rgb)


def test_refine_recrops_around_the_last_pass(tiny_weights, image):
    """refine=1 is a second pass on the crop the model trains on (the box of the first pass's points)."""
    from heatmark.data.crops import box_from_landmarks

    box = [[20, 30, 120, 130]]
    one, two = (Landmarker(tiny_weights["heatmap"], detector=None, refine=r) for r in (0, 1))
    first = one.predict(image, boxes=box)[0].landmarks
    crop = box_from_landmarks(first.astype(np.float64), one.box_scale, expand=one.scheme.box_expand)
    expected = one.predict_boxes(image, [crop])[0][0]
    np.testing.assert_allclose(two.predict(image, boxes=box)[0].landmarks, expected, atol=1e-4)


def test_refine_flips_only_the_last_pass_and_keeps_small_rolls_upright(tiny_weights, image):
    lm = Landmarker(tiny_weights["heatmap"], detector=None, refine=2, flip=True)
    calls, run = [], lm.predictor.run_crops
    lm.predictor.run_crops = lambda crops, flip=None: calls.append(flip) or run(crops, flip)
    from heatmark.data.crops import SquareBox

    lm.predict_boxes(image, [SquareBox(70, 80, 120)], np.array([10.0]))
    assert calls == [False, False, True]
    seen = []
    lm._pass = lambda rgb, boxes, rolls, flip: seen.append(rolls.copy()) or (np.full((1, 68, 2), 70.0),
                                                                            np.ones((1, 68)))
    lm.predict_boxes(image, [SquareBox(70, 80, 120)], np.array([10.0]))
    lm.predict_boxes(image, [SquareBox(70, 80, 120)], np.array([40.0]))
    # the first pass turns by the detector's roll; refinement crops are axis-aligned (as training's) unless the
    # face is rolled further than training rotates
    assert [float(r[0]) for r in seen] == [10.0, 0.0, 0.0, 40.0, 40.0, 40.0]


@pytest.mark.parametrize("bad", [-1, 6, 1.5, True, "1"])
def test_refine_must_be_a_small_whole_number(tiny_weights, bad):
    with pytest.raises(HeatmarkError, match="refine"):
        Landmarker(tiny_weights["heatmap"], detector=None, refine=bad)


def test_refine_default_follows_the_detector(tiny_weights):
    """One refinement pass by default with the detectors whose boxes fit loosely (dlib, OpenCV), none otherwise;
    an explicit value wins."""
    w = tiny_weights["heatmap"]
    assert [Landmarker(w, detector=d).refine for d in ("opencv", "dlib", "mtcnn", "mtcnn:48", None)] == [1, 1, 0, 0, 0]
    assert Landmarker(w, detector=lambda rgb: (np.zeros((0, 4)), np.zeros(0))).refine == 0
    assert Landmarker(w, detector="opencv", refine=0).refine == 0


def test_track_makes_one_pass_whatever_refine_says(tiny_weights, image):
    """Tracking already crops around landmarks (the previous frame's): refinement passes would only double the
    time per video frame."""
    prev = np.random.default_rng(0).uniform(40, 110, (68, 2))
    one, three = (Landmarker(tiny_weights["heatmap"], detector=None, refine=r) for r in (0, 2))
    a, b = one.track(image, prev), three.track(image, prev)
    np.testing.assert_allclose(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1])
