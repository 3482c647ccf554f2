"""Mask-guided appearance randomisation: colour only, so landmarks stay pixel-exact."""

import shutil

import numpy as np
import pytest

from heatmark.data import appearance
from heatmark.data.cache import CropCache
from heatmark.data.dataset import LandmarkDataset
from heatmark.data.readers import load_dataset
from heatmark.errors import ConfigError


@pytest.fixture(scope="module")
def cache(fixtures):
    return CropCache(load_dataset("facesynthetics", fixtures / "facesynthetics"), size=96, context=1.8)


@pytest.mark.parametrize("extra", [{"parts": 1.0}, {"shading": 1.0}, {"camera": 1.0},
                                   {"parts": 1.0, "shading": 1.0, "camera": 1.0, "background": 1.0}])
def test_colour_only_steps_keep_landmarks_exactly(cache, extra):
    plain = LandmarkDataset(cache, input_size=64, augment={"preset": "full"}, seed=3)
    styled = LandmarkDataset(cache, input_size=64, augment={"preset": "full", **extra}, seed=3)
    changed = 0
    for i in range(len(cache)):
        a, b = plain.load(i, epoch=1), styled.load(i, epoch=1)
        np.testing.assert_array_equal(a["landmarks"], b["landmarks"])
        np.testing.assert_array_equal(a["matrix"], b["matrix"])
        changed += int(np.abs(a["image"].astype(int) - b["image"].astype(int)).max() > 0)
    assert changed == len(cache)  # and the pixels did change


def test_disabled_steps_leave_older_augmentations_unchanged(cache):
    """A config without the new steps draws the same random numbers as before they existed."""
    a = LandmarkDataset(cache, input_size=64, augment="full_bg", seed=5).load(0, epoch=2)
    b = LandmarkDataset(cache, input_size=64, augment={"preset": "full_bg", "parts": 0, "camera": 0},
                        seed=5).load(0, epoch=2)
    np.testing.assert_array_equal(a["image"], b["image"])


def test_part_colours_change_only_the_parts():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    seg = np.zeros((64, 64), np.uint8)
    seg[10:30, 10:30] = 1  # skin
    seg[40:60, 40:60] = 13  # hair
    out = appearance.part_colours(img, seg, np.random.default_rng(1), p_part=1.0)
    far = np.ones((64, 64), bool)
    far[6:34, 6:34] = far[36:64, 36:64] = False  # the parts and a feathering margin
    np.testing.assert_array_equal(out[far], img[far])
    assert np.abs(out[15:25, 15:25].astype(int) - img[15:25, 15:25]).mean() > 1


def test_style_transfer_moves_colour_statistics(tmp_path, fixtures, opened_files):
    photos = tmp_path / "real"
    shutil.copytree(fixtures / "300w", photos)
    with opened_files as rec:
        pool = appearance.style_statistics(photos)
    opened = list(rec.paths)
    assert pool.shape == (6, 2, 3) and not [p for p in opened if p.endswith(".pts")]
    img = np.full((32, 32, 3), 120, np.uint8) + np.random.default_rng(0).integers(0, 20, (32, 32, 3)).astype(np.uint8)
    ref = np.array([[[200.0, 140.0, 150.0], [30.0, 5.0, 5.0]]])
    out = appearance.transfer_style(img, ref, np.random.default_rng(0))
    before = appearance.lab_statistics(img)[0]
    after = appearance.lab_statistics(out)[0]
    assert np.linalg.norm(after - ref[0, 0]) < np.linalg.norm(before - ref[0, 0])


def test_style_needs_a_photo_folder(cache, tmp_path):
    with pytest.raises(ConfigError, match="style_images"):
        LandmarkDataset(cache, input_size=64, augment={"preset": "full", "style": 0.5})
    with pytest.raises(Exception, match="no photos"):
        LandmarkDataset(cache, input_size=64, augment={"preset": "full", "style": 0.5, "style_images": str(tmp_path)})
