import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatmark.data.augment import flip_landmarks
from heatmark.data.crops import (
    SquareBox,
    around_centre,
    box_from_detection,
    box_from_landmarks,
    crop_face,
    crop_matrix,
    invert,
    jitter_box,
    transform_points,
    warp,
    warp_batch,
)
from heatmark.data.schemes import IBUG68


@settings(max_examples=60, deadline=None)
@given(cx=st.floats(-100, 900), cy=st.floats(-100, 900), size=st.floats(5, 2000), out=st.integers(16, 512),
       rot=st.floats(-180, 180), flip=st.booleans())
def test_crop_then_inverse_is_identity(cx, cy, size, out, rot, flip):
    pts = np.random.default_rng(1).uniform(-50, 1000, (68, 2))
    m = crop_matrix(SquareBox(cx, cy, size), out, rot, flip)
    back = transform_points(invert(m), transform_points(m, pts))
    assert np.abs(back - pts).max() < 1e-3


def test_batched_transform():
    rng = np.random.default_rng(0)
    ms = np.stack([crop_matrix(SquareBox(*rng.uniform(50, 100, 3)), 64, r) for r in (0, 30, -45)])
    pts = rng.uniform(0, 200, (3, 68, 2))
    out = transform_points(ms, pts)
    for i in range(3):
        np.testing.assert_allclose(out[i], transform_points(ms[i], pts[i]))


def test_invert_is_the_matrix_inverse_single_and_batched():
    rng = np.random.default_rng(2)
    turns = ((0, False), (33, True), (-170, False))
    ms = np.stack([crop_matrix(SquareBox(*rng.uniform(20, 400, 3)), 128, r, f) for r, f in turns])
    np.testing.assert_allclose(invert(ms), np.linalg.inv(ms), atol=1e-12)
    np.testing.assert_allclose(invert(ms[1]), np.linalg.inv(ms[1]), atol=1e-12)
    assert invert(ms[1]).shape == (3, 3)


@pytest.mark.parametrize("channels", [3, 0])
def test_warp_batch_equals_one_warp_per_face(channels):
    """Each face warped straight into the batch array is the crop warp() returns alone: small and large boxes
    (the shrinking path), a turned one, colour and grey images."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (300, 400, channels) if channels else (300, 400), dtype=np.uint8)
    ms = np.stack([crop_matrix(SquareBox(200, 150, s), 96, r) for s, r in ((120, 0), (250, 15), (900, -30))])
    batch = warp_batch(image, ms, 96)
    assert batch.shape == (3, 96, 96, *image.shape[2:]) and batch.dtype == np.uint8
    for m, crop in zip(ms, batch):
        np.testing.assert_array_equal(crop, warp(image, m, 96))


def test_box_maps_to_crop_corners_and_centre():
    m = crop_matrix(SquareBox(100, 50, 40), 80)
    np.testing.assert_allclose(transform_points(m, np.array([[80.0, 30], [120, 70], [100, 50]])),
                               [[0, 0], [80, 80], [40, 40]], atol=1e-9)


def test_warp_is_subpixel_aligned_with_points():
    """A single bright pixel's centroid after warping lands where the matrix sends its centre."""
    img = np.zeros((64, 64), np.float32)
    img[20, 10] = 1
    for m in (crop_matrix(SquareBox(32, 32, 64), 128), crop_matrix(SquareBox(30.3, 33.7, 50), 128, 0, True)):
        c = warp(img, m, 128)
        ys, xs = np.mgrid[: c.shape[0], : c.shape[1]]
        w = c / c.sum()
        centroid = [(w * (xs + 0.5)).sum(), (w * (ys + 0.5)).sum()]
        # OpenCV warps with 1/32-pixel fixed-point coordinates: ~0.016 input px, x scale in output px.
        # A half-pixel convention error would be >= 1 px here.
        np.testing.assert_allclose(centroid, transform_points(m, np.array([[10.5, 20.5]]))[0], atol=0.06)


def test_flip_twice_is_identity_and_keeps_sides():
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 100, (68, 2))
    pts[36:42, 0] = rng.uniform(10, 40, 6)  # subject's right eye on the image's left
    pts[42:48, 0] = rng.uniform(60, 90, 6)
    f = flip_landmarks(pts, 100, IBUG68.flip_index)
    np.testing.assert_allclose(flip_landmarks(f, 100, IBUG68.flip_index), pts)
    # after the mirror + swap, indices 36-41 (subject's right eye) are again on the image's left
    assert f[36:42, 0].max() < f[42:48, 0].min()


def test_flip_matrix_and_index_swap_match_flip_landmarks():
    pts = np.random.default_rng(3).uniform(20, 80, (68, 2))
    m = crop_matrix(SquareBox(50, 50, 100), 100, flip=True)
    via_matrix = transform_points(m, pts)[IBUG68.flip_index]
    np.testing.assert_allclose(via_matrix, flip_landmarks(pts, 100, IBUG68.flip_index), atol=1e-9)


def test_box_helpers():
    pts = np.array([[10.0, 20], [30, 60]])
    b = box_from_landmarks(pts, 1.5)
    assert (b.cx, b.cy, b.size) == (20, 40, 60)
    vis = np.array([True, False])
    assert box_from_landmarks(pts, 1.0, vis).size == 1.0  # one visible point: minimal box
    d = box_from_detection([0, 0, 100, 80], scale=1.2, shift_y=0.1)
    assert d.size == pytest.approx(120) and d.cy == pytest.approx(40 + 12)
    j = jitter_box(b, np.random.default_rng(0), 0.1, 0.05)
    assert 54 <= j.size <= 66 and abs(j.cx - 20) <= 3


def test_crop_face_returns_matrix_and_image():
    img = np.zeros((100, 100, 3), np.uint8)
    img[40:60, 40:60] = 255
    crop, m = crop_face(img, SquareBox(50, 50, 40), 80)
    assert crop.shape == (80, 80, 3) and crop[40, 40].min() == 255 and crop[2, 2].max() == 0
    assert around_centre(64).shape == (3, 3)


def test_warp_shrinks_only_the_part_it_reads_with_the_same_result():
    """Shrinking crops first shrink the photo by a whole factor (block means); doing it only on the part the crop
    reads gives the same pixels as shrinking the whole photo, for crops inside, across the edge of and outside the
    photo, turned or not."""
    import cv2

    from heatmark.data.crops import SquareBox, _to_cv, crop_matrix, warp

    def whole_photo_shrink(image, matrix, size):
        scale = np.sqrt(abs(np.linalg.det(matrix[:2, :2])))
        if scale < 0.5:
            k = int(1 / scale)
            h, w = image.shape[:2]
            padded = cv2.copyMakeBorder(image, 0, -h % k, 0, -w % k, cv2.BORDER_REPLICATE)
            image = cv2.resize(padded, (padded.shape[1] // k, padded.shape[0] // k), interpolation=cv2.INTER_AREA)
            matrix = matrix @ np.diag([k, k, 1.0])
        return cv2.warpAffine(image, _to_cv(matrix), (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (301, 403, 3), dtype=np.uint8)
    shrunk = 0
    for _ in range(80):
        box = SquareBox(rng.uniform(-60, 460), rng.uniform(-60, 360), rng.uniform(20, 500))
        m = crop_matrix(box, 32, rng.uniform(-40, 40))
        shrunk += box.size > 64
        assert np.array_equal(warp(img, m, 32), whole_photo_shrink(img, m, 32)), box
    assert shrunk > 40


def test_warp_shrinking_keeps_geometry_and_removes_aliasing():
    """A bright square lands where the matrix puts it at every shrink factor (turned too), and 1-px stripes shrunk
    4x come out an even grey (5x: nearly) where bilinear sampling alone turns them black or white."""
    import cv2

    from heatmark.data.crops import SquareBox, _to_cv, crop_matrix, transform_points, warp

    img = np.zeros((1200, 1200), np.uint8)
    img[600:612, 300:312] = 255  # centre (306, 606) in continuous coordinates
    for size in (100, 300, 500, 900):
        for angle in (0, 30):
            m = crop_matrix(SquareBox(330, 590, size), 64, angle)
            crop = warp(img, m, 64).astype(np.float64)
            yy, xx = np.mgrid[:64, :64] + 0.5
            found = np.array([(crop * xx).sum(), (crop * yy).sum()]) / crop.sum()
            np.testing.assert_allclose(found, transform_points(m, np.array([[306.0, 606.0]]))[0], atol=0.1)
    stripes = np.zeros((500, 500), np.uint8)
    stripes[:, ::2] = 255  # its low-passed version is an even 127.5 grey
    for cx, size, most in ((250.5, 256, 1.0), (250.0, 320, 30.0)):  # 4x: whole pairs of stripes per block; 5x: 3
        m = crop_matrix(SquareBox(cx, 250, size), 64)  # or 2 of 5 lit. cx: bilinear samples on pixel centres
        assert np.abs(warp(stripes, m, 64)[8:56, 8:56] - 127.5).mean() < most
        plain = cv2.warpAffine(stripes, _to_cv(m), (64, 64), flags=cv2.INTER_LINEAR)
        assert np.abs(plain[8:56, 8:56] - 127.5).mean() > 100  # bilinear alone: black or white


@pytest.mark.parametrize("angle", [0.0, 30.0, -60.0])
def test_box_from_landmarks_in_a_turned_frame(angle):
    """With ``rotation_deg``, the box is the one an upright face gets, in the frame a crop turned by that angle
    sees: cutting that turned crop shows the face as the upright box shows the upright face."""
    rng = np.random.default_rng(0)
    upright = rng.uniform(-40, 40, (68, 2)) * [1.0, 1.4] + [200, 150]
    centre = upright.mean(0)
    a = np.deg2rad(angle)  # the face turned by ``angle`` about its centre, as crop_matrix measures rotations
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    turned = (upright - centre) @ rot.T + centre  # eye line at +angle, as roll_from_keypoints measures it
    ref = box_from_landmarks(upright, 1.25)
    box = box_from_landmarks(turned, 1.25, rotation_deg=angle)
    assert box.size == pytest.approx(ref.size)
    # the turned crop of the turned face and the upright crop of the upright face hold the points at the same place
    np.testing.assert_allclose(transform_points(crop_matrix(box, 128, angle), turned),
                               transform_points(crop_matrix(ref, 128), upright), atol=1e-9)
    if angle:  # without the angle, the box of a turned face is the larger axis-aligned one
        assert box_from_landmarks(turned, 1.25).size > ref.size
