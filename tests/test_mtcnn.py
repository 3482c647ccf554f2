"""The shipped MTCNN detector: NMS, faces in the bundled photo, thread safety, no torch, recall on AFW."""

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from heatmark.cli import BUNDLED_PHOTO
from heatmark.mtcnn import MTCNNDetector, nms


@pytest.fixture(scope="module")
def detector():
    return MTCNNDetector(threads=1)


@pytest.fixture(scope="module")
def photo():
    from heatmark.data.image_io import read_image

    return read_image(BUNDLED_PHOTO)


def test_nms_union_and_min():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [2, 2, 6, 6]], np.float64)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    # IoU(0, 1) = 81 / 119 = 0.68; box 3 lies inside box 0 (IoU 0.16, but overlap over the smaller box 1.0)
    assert nms(boxes, scores, 0.5).tolist() == [3, 0, 2]
    assert nms(boxes, scores, 0.5, "min").tolist() == [3, 2]
    assert nms(boxes[:0], scores[:0], 0.5).tolist() == []


def _area(b):
    return (b[2] - b[0]) * (b[3] - b[1])


def _greedy_nms(boxes, scores, threshold):
    """Reference: the textbook greedy loop (suppress IoU > threshold), best first, ties in index order."""
    order, keep = sorted(range(len(boxes)), key=lambda i: -scores[i]), []
    for i in order:
        ok = True
        for j in keep:
            w = max(0.0, min(boxes[i][2], boxes[j][2]) - max(boxes[i][0], boxes[j][0]))
            h = max(0.0, min(boxes[i][3], boxes[j][3]) - max(boxes[i][1], boxes[j][1]))
            if w * h > threshold * (_area(boxes[i]) + _area(boxes[j]) - w * h):
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


def test_nms_union_matches_the_greedy_loop_on_random_boxes():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(1, 120))
        xy, wh = rng.uniform(0, 300, (n, 2)), rng.uniform(1, 60, (n, 2))
        boxes, scores = np.concatenate([xy, xy + wh], 1), np.round(rng.uniform(0.0, 1, n), 2)  # ties, a score 0
        for thr in (0.5, 0.7):
            assert nms(boxes, scores, thr).tolist() == _greedy_nms(boxes.tolist(), scores.tolist(), thr)


def test_nms_in_groups_equals_nms_of_each_group_alone():
    """P-Net's per-scale suppression runs as one call with a group (scale) label per box."""
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(1, 150))
        xy, wh = rng.uniform(0, 200, (n, 2)), rng.uniform(5, 60, (n, 2))
        boxes, scores = np.concatenate([xy, xy + wh], 1), rng.uniform(0.6, 1, n)
        groups = rng.integers(0, 5, n)
        got = nms(boxes, scores, 0.5, groups=groups)
        expected = np.concatenate([np.nonzero(groups == g)[0][nms(boxes[groups == g], scores[groups == g], 0.5)]
                                   for g in np.unique(groups)])
        assert sorted(got.tolist()) == sorted(expected.tolist())
        assert np.all(np.diff(scores[got]) <= 0)  # best first, as without groups
    with pytest.raises(ValueError, match="union"):
        nms(boxes, scores, 0.5, "min", groups=groups)


def test_pyramid_crops_match_an_area_resize_of_each_box():
    """R- and O-Net crops are sampled from the pyramid level just fine enough for each box: within a few grey
    levels of an area resize of the box itself (what the reference MTCNN feeds them)."""
    import cv2

    from heatmark.mtcnn import _pyramid_crops

    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), (0, 0), 3)
    sources, level = [(1.0, 1.0, img)], img
    for s in (0.3, 0.3 * 0.709, 0.3 * 0.709**2, 0.3 * 0.709**3):
        hs, ws = int(240 * s + 1), int(320 * s + 1)
        level = cv2.resize(level, (ws, hs), interpolation=cv2.INTER_AREA)
        sources.append((ws / 320, hs / 240, level))
    boxes = np.array([[10, 20, 130, 140], [100, 50, 160, 110], [200, 100, 296, 196], [30, 30, 50, 50]], np.float64)
    for size in (24, 48):
        got = _pyramid_crops(sources, boxes, size)
        for b, crop in zip(boxes.astype(int), got):
            ref = cv2.resize(img[b[1]:b[3], b[0]:b[2]], (size, size), interpolation=cv2.INTER_AREA)
            ref = (ref.astype(np.float32) - 127.5) / 128
            assert np.abs(crop.transpose(1, 2, 0) - ref).mean() < 3 / 128, (size, b)
    outside = _pyramid_crops(sources, np.array([[-40.0, -40, 20, 20]]), 24)[0]
    assert np.allclose(outside[:, :5, :5], -127.5 / 128)  # zero outside the image


def test_finds_the_four_faces_of_the_bundled_photo(detector, photo):
    """The sample photo is four portraits side by side (1280 × 320): each is found, with its 5 points inside.
    (A fifth, less confident detection is a real face: a second person in the second portrait, cut by the top
    edge.)"""
    boxes, scores, points = detector.detect(photo)
    confident = scores > 0.99
    assert confident.sum() == 4
    centres = np.sort((boxes[confident, 0] + boxes[confident, 2]) / 2)
    assert np.all(np.diff(np.floor(centres / 320)) == 1)  # one face per 320-pixel portrait
    for b, p in zip(boxes[confident], points[confident]):
        assert np.all((p[:, 0] > b[0]) & (p[:, 0] < b[2]) & (p[:, 1] > b[1]) & (p[:, 1] < b[3]))
        assert p[0, 0] < p[1, 0] and p[3, 0] < p[4, 0]  # eyes and mouth corners left to right in the image
        assert p[0, 1] < p[2, 1] < p[3, 1]  # eyes above the nose above the mouth
    assert np.all(np.diff(scores) <= 0)  # best first


def test_no_face_in_a_flat_image(detector):
    boxes, scores, points = detector.detect(np.full((240, 320, 3), 128, np.uint8))
    assert boxes.shape == (0, 4) and scores.shape == (0,) and points.shape == (0, 5, 2)


def test_one_instance_shared_by_threads_gives_the_same_boxes(detector, photo):
    from heatmark.data.image_io import read_image

    images = [photo, read_image(BUNDLED_PHOTO)[:, :640].copy(), np.ascontiguousarray(photo[:, ::-1])]
    expected = [detector(im)[0] for im in images]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: detector(images[i % 3])[0], range(24)))
    for i, boxes in enumerate(got):
        np.testing.assert_array_equal(boxes, expected[i % 3])


def test_helper_thread_for_the_finest_level_changes_nothing(detector, photo):
    """Two threads (P-Net's finest level in a helper thread) give the boxes, scores and points of the one-thread
    cascade, also when four callers share the two-thread instance."""
    two = MTCNNDetector(threads=2)
    assert two._helper is not None and detector._helper is None
    images = [photo, np.ascontiguousarray(photo[:, ::-1]), photo[:200, :500].copy()]
    for im in images:
        for a, b in zip(detector.detect(im), two.detect(im)):
            np.testing.assert_array_equal(a, b)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: two(images[i % 3])[0], range(12)))
    for i, boxes in enumerate(got):
        np.testing.assert_array_equal(boxes, detector(images[i % 3])[0])


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_process_detects_with_its_own_helper_thread(photo):
    """A process forked after a detection (multiprocessing's fork start method) gets the parent's boxes instead of
    waiting forever on the parent's helper thread, which the child does not have."""
    import os

    two = MTCNNDetector(threads=2)
    expected = two(photo)[0]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: detect, report, leave without running the parent's test teardown
        try:
            os.write(write, np.ascontiguousarray(two(photo)[0], np.float32).tobytes())
        finally:
            os._exit(0)
    os.close(write)
    import select
    import signal

    chunks = []
    while select.select([read], [], [], 60)[0]:  # a child stuck for a minute fails the test instead of hanging it
        chunk = os.read(read, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    else:
        os.kill(pid, signal.SIGKILL)
    os.close(read)
    os.waitpid(pid, 0)
    got = np.frombuffer(b"".join(chunks), np.float32).reshape(-1, 4)
    np.testing.assert_array_equal(got, expected)


def test_default_landmarker_detects_with_mtcnn_without_torch():
    code = ("import sys, json\n"
            "import heatmark\n"
            "lm = heatmark.Landmarker()\n"
            f"faces = lm.predict({str(BUNDLED_PHOTO)!r})\n"
            "print(json.dumps({'torch': 'torch' in sys.modules, 'detector': lm.detector.name,\n"
            "                  'faces': sum(f.detection_score > 0.99 for f in faces)}))\n")
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {"torch": False, "detector": "mtcnn", "faces": 4}


@pytest.mark.shared
def test_recall_on_afw(shared, detector):
    """At least 98 % of the 337 AFW faces found (a detection overlapping the landmark box with IoU >= 0.3)."""
    from heatmark.data.readers import load_dataset

    found = 0
    records = load_dataset("300w", shared / "300w_afw")
    for r in records:
        boxes, _ = detector(r.load_image())
        lo, hi = r.landmarks.min(0), r.landmarks.max(0)
        if len(boxes) == 0:
            continue
        lt, rb = np.maximum(lo, boxes[:, :2]), np.minimum(hi, boxes[:, 2:])
        inter = np.clip(rb - lt, 0, None).prod(1)
        union = (hi - lo).prod() + (boxes[:, 2:] - boxes[:, :2]).prod(1) - inter
        found += bool((inter / union >= 0.3).any())
    assert found / len(records) >= 0.98, f"{found} of {len(records)}"


def test_bench_detectors_table_on_fixtures(fixtures, tmp_path):
    from heatmark.cli import main

    out = tmp_path / "detectors.md"
    assert main(["bench", "detectors", "--root", str(fixtures / "300w"), "--detectors", "mtcnn", "opencv",
                 "--small-limit", "3", "--repeats", "1", "--write", str(out)]) == 0
    text = out.read_text()
    assert "heatmark bench detectors" in text and "| mtcnn | 100.0 |" in text and "| opencv |" in text
    assert "0 / 0" in text  # 4 threads on one Landmarker: no wrong result, no error


def test_eval_with_detector_boxes_reports_recall_and_time(tiny_weights, fixtures, capsys):
    from heatmark.cli import main

    assert main(["eval", "--dataset", "300w", "--root", str(fixtures / "300w"), "--weights",
                 str(tiny_weights["heatmap"]), "--boxes", "detector"]) == 0
    out = capsys.readouterr().out
    assert "mtcnn detector found 6 of 6 faces (recall 100.0%; median" in out and "ms per image" in out


def test_huge_photo_caps_the_finest_pyramid_level(detector):
    """A 20 000 × 20 000 photo: the finest level keeps ≤ MAX_LEVEL_PIXELS (the smallest face looked for grows), so
    it takes about a second and no more memory than a few copies of the level; a 640×480 photo is unaffected."""
    from heatmark.mtcnn import MAX_LEVEL_PIXELS

    assert detector.scales(480, 640)[0] == 12 / 40
    first = detector.scales(20000, 20000)[0]
    assert (20000 * first) ** 2 <= MAX_LEVEL_PIXELS * 1.0001 and 12 / first > 100
    big = np.zeros((20000, 20000, 3), np.uint8)
    big[9000:11000, 9000:11000] = 200
    boxes, scores, points = detector.detect(big)
    assert boxes.shape == (0, 4)


@pytest.mark.parametrize("shape", [(0, 0, 3), (1, 1, 3), (1, 1), (64, 48), (64, 48, 4)])
def test_odd_images_give_no_face_without_error(shape, detector):
    """Empty, 1×1, grey and RGBA arrays: an empty result (or faces), never an exception."""
    from heatmark.api import Landmarker

    lm = Landmarker(detector="mtcnn")
    arr = np.zeros(shape, np.uint8)
    if arr.size == 0:
        with pytest.raises(Exception, match="expected an image array"):  # a clear error, not a traceback deep down
            lm.predict(arr)
        return
    assert lm.predict(arr) == []


def test_roll_from_the_eye_points_turns_crops_upright(photo):
    """A portrait turned by 25° in the image: MTCNN's eye points give a roll of about 25°, and the crop the
    Landmarker cuts for it is turned back (its eye points lie on a horizontal line in the crop)."""
    import cv2

    from heatmark.api import Landmarker
    from heatmark.data.crops import crop_matrix, transform_points
    from heatmark.detect import crop_box_from_detection, roll_from_keypoints

    assert roll_from_keypoints(np.array([[[0, 0], [10, 10]], [[0, 0], [10, 0]]], np.float64)).tolist() == [45.0, 0.0]
    box = crop_box_from_detection([0, 0, 100, 100], "mtcnn", 1.0, roll_deg=90.0)  # the downward shift turns left
    plain = crop_box_from_detection([0, 0, 100, 100], "mtcnn", 1.0)
    assert box.cx < plain.cx - 10 and abs(box.cy - 50) < 2

    portrait = np.ascontiguousarray(photo[:, 320:640])
    m = cv2.getRotationMatrix2D((160, 160), -25, 1.0)  # negative angle in OpenCV: clockwise on screen
    turned = cv2.warpAffine(portrait, m, (320, 320), borderMode=cv2.BORDER_REFLECT)
    lm = Landmarker(detector="mtcnn")
    boxes, scores, crops, rolls = lm.detect_crops(turned)
    best = int(np.argmax(scores))
    assert 19 < rolls[best] < 31
    _, _, pts = lm.detector.detect(turned)
    eyes = transform_points(crop_matrix(crops[best], 128, float(rolls[best]))[None], pts[best:best + 1, :2])[0]
    assert abs(eyes[1, 1] - eyes[0, 1]) < 0.05 * abs(eyes[1, 0] - eyes[0, 0])
    assert Landmarker(detector="mtcnn", upright=False).detect_crops(turned)[3].tolist() == [0.0] * len(boxes)


def test_mtcnn_min_face_by_name(capsys):
    """``mtcnn:MIN_FACE`` (Landmarker, --detector, bench detectors) builds MTCNN with that smallest face; nonsense is
    refused with the valid form named."""
    from heatmark.cli import main
    from heatmark.detect import get_detector
    from heatmark.errors import HeatmarkError

    assert get_detector("mtcnn:48").min_face == 48.0 and get_detector("mtcnn").min_face == 40.0
    assert len(get_detector("mtcnn:48").scales(480, 640)) < len(get_detector("mtcnn").scales(480, 640))
    for bad in ("mtcnn:x", "mtcnn:5", "mtcnn:"):
        with pytest.raises(HeatmarkError, match="MIN_FACE must be a number of pixels"):
            get_detector(bad)
    with pytest.raises(SystemExit) as e:
        main(["predict", str(BUNDLED_PHOTO), "--detector", "mtcnn:3"])
    assert e.value.code == 2 and "e.g. mtcnn:48" in capsys.readouterr().err


def test_predict_on_a_photo_without_a_face_writes_an_empty_result(tmp_path, capsys):
    """`heatmark predict` with the default detector on a photo without a face: exit 0, "faces": [] in its JSON."""
    import cv2

    from heatmark.cli import main

    cv2.imwrite(str(tmp_path / "wall.png"), np.full((480, 640, 3), 128, np.uint8))
    assert main(["predict", str(tmp_path / "wall.png"), "--out", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "wall.json").read_text())["faces"] == []
    assert "Traceback" not in capsys.readouterr().err
