"""Landmark-guided TPS shape warps: the image follows the landmarks to within half a pixel."""

import numpy as np
import pytest

from heatmark.data.warps import random_shape, tps_apply, tps_fit, tps_maps, warp_to


def _layout(size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(0)
    pts = rng.uniform(0.25 * size, 0.75 * size, (68, 2))
    pts[36], pts[45] = [0.3 * size, 0.4 * size], [0.7 * size, 0.4 * size]
    return pts


def test_tps_interpolates_its_control_points():
    src = _layout()
    dst = src + np.random.default_rng(1).normal(0, 2, src.shape)
    coef = tps_fit(src, dst)
    np.testing.assert_allclose(tps_apply(src, src, coef), dst, atol=1e-3)


def test_warped_image_follows_the_landmarks_within_half_a_pixel(fixtures):
    """Each target landmark's pixel is fetched from its source landmark (the remap maps, read bilinearly at
    the target), and a blob at a source landmark peaks at the target, within 0.5 px."""
    import cv2

    from heatmark.data.cache import CropCache
    from heatmark.data.readers import load_dataset

    size = 128
    cache = CropCache(load_dataset("facesynthetics", fixtures / "facesynthetics"), size=size, context=1.25)
    src = cache.landmarks[0].astype(np.float64)
    dst = random_shape(src, np.random.default_rng(3), strength=1.5)
    assert np.abs(dst - src).max() > 2  # the shape really changed
    maps = tps_maps(src, dst, size)
    q = (dst - 0.5).astype(np.float32).reshape(1, -1, 2)
    fetched = np.stack([cv2.remap(m, q[..., 0], q[..., 1], cv2.INTER_LINEAR)[0] for m in maps], 1) + 0.5
    assert np.linalg.norm(fetched - src, axis=1).max() < 0.5
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    for k in (0, 8, 16, 30, 36, 45, 57):
        blob = np.exp(-((xs - src[k, 0]) ** 2 + (ys - src[k, 1]) ** 2) / (2 * 1.5 ** 2)).astype(np.float32)
        out = warp_to(blob, maps)
        iy, ix = np.unravel_index(np.argmax(out), out.shape)
        assert np.hypot(ix + 0.5 - dst[k, 0], iy + 0.5 - dst[k, 1]) <= 1.0  # the peak pixel holds the target


def test_dataset_shape_augmentation_moves_landmarks_and_refuses_other_schemes(fixtures):
    from heatmark.data.cache import CropCache
    from heatmark.data.dataset import LandmarkDataset
    from heatmark.data.readers import load_dataset
    from heatmark.errors import ConfigError

    cache = CropCache(load_dataset("facesynthetics", fixtures / "facesynthetics"), size=96, context=1.8)
    plain = LandmarkDataset(cache, 64, augment="none").load(0)
    warped = LandmarkDataset(cache, 64, augment={"preset": "none", "shape": 1.0}).load(0)
    moved = np.linalg.norm(warped["landmarks"] - plain["landmarks"], axis=1)
    assert moved.max() > 0.3 and np.isfinite(warped["landmarks"]).all()
    assert not np.array_equal(warped["image"], plain["image"])
    wflw = CropCache(load_dataset("wflw", fixtures / "wflw"), size=96, context=1.8)
    with pytest.raises(ConfigError, match="iBUG-68"):
        LandmarkDataset(wflw, 64, augment={"preset": "none", "shape": 0.5})
