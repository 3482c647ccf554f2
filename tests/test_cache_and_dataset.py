import os
import shutil

import numpy as np
import pytest

from heatmark.data.cache import CropCache
from heatmark.data.dataset import LandmarkDataset
from heatmark.data.readers import load_dataset


@pytest.fixture
def fs_copy(fixtures, tmp_path):
    d = tmp_path / "fs"
    shutil.copytree(fixtures / "facesynthetics", d)
    return d


def test_cache_reused_and_invalidated(fs_copy, tmp_path):
    cdir = tmp_path / "cache"
    recs = load_dataset("facesynthetics", fs_copy)
    c1 = CropCache(recs, 64, 1.8, cdir, "fs")
    assert not c1.reused and (c1.path / "complete").is_file()
    c2 = CropCache(load_dataset("facesynthetics", fs_copy), 64, 1.8, cdir, "fs")
    assert c2.reused and c2.path == c1.path
    np.testing.assert_array_equal(c1.images, c2.images)
    # crop settings change -> new cache
    c3 = CropCache(recs, 64, 2.0, cdir, "fs")
    assert not c3.reused and c3.path != c1.path
    # a source image changes -> new cache, and the stale one of the same tag is gone
    img = fs_copy / "000001.png"
    st = img.stat()
    os.utime(img, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    c4 = CropCache(load_dataset("facesynthetics", fs_copy), 64, 2.0, cdir, "fs")
    assert not c4.reused and not c3.path.exists()
    # an annotation changes -> new cache
    f = fs_copy / "000002_ldmks.txt"
    f.write_text(f.read_text().replace(".", ".", 1).replace("\n", " \n", 1))  # same values, new mtime/content
    pts = np.loadtxt(f)
    pts[0] += 1
    np.savetxt(f, pts)
    c5 = CropCache(load_dataset("facesynthetics", fs_copy), 64, 2.0, cdir, "fs")
    assert not c5.reused


def test_cache_contents_match_direct_crop(fixtures, tmp_path):
    recs = load_dataset("300w", fixtures / "300w")
    c = CropCache(recs, 96, 1.8, tmp_path, "w")
    from heatmark.data.crops import transform_points

    for i, r in enumerate(recs):
        np.testing.assert_allclose(transform_points(c.matrices[i], r.landmarks), c.landmarks[i], atol=1e-3)
    assert c.images.shape == (6, 96, 96, 3) and c.masks is None
    mem = CropCache(recs, 96, 1.8, None)
    np.testing.assert_array_equal(np.asarray(c.images), mem.images)


def test_interrupted_build_leaves_no_cache(fixtures, tmp_path, monkeypatch):
    recs = load_dataset("300w", fixtures / "300w")

    def boom(self, i):
        raise KeyboardInterrupt

    monkeypatch.setattr(CropCache, "_crop_one", boom)
    with pytest.raises(KeyboardInterrupt):
        CropCache(recs, 32, 1.8, tmp_path, "w", workers=1)
    assert list(tmp_path.iterdir()) == []


def test_dataset_items_and_matrix_maps_original_points(fixtures):
    recs = load_dataset("facesynthetics", fixtures / "facesynthetics")
    ds = LandmarkDataset(CropCache(recs, 96, 1.8), input_size=64, target_scheme="ibug68", augment="none")
    item = ds[1]
    assert item["image"].shape == (3, 64, 64) and item["image"].max() <= 1.0
    assert item["landmarks"].shape == (68, 2) and item["visible"].shape == (68,)
    from heatmark.data.crops import transform_points

    np.testing.assert_allclose(transform_points(item["matrix"].numpy(), recs[1].landmarks[:68]),
                               item["landmarks"].numpy(), atol=1e-3)


def test_augmentation_is_reproducible_and_flips_swap_indices(fixtures):
    recs = load_dataset("facesynthetics", fixtures / "facesynthetics")
    cache = CropCache(recs, 96, 1.8)
    ds = LandmarkDataset(cache, 64, augment="full_bg", seed=3)
    a, b = ds.load(0), ds.load(0)
    np.testing.assert_array_equal(a["image"], b["image"])
    ds.set_epoch(1)
    assert not np.array_equal(ds.load(0)["image"], a["image"])
    # the second draw of a sample in the same epoch is augmented afresh; draw 0 is the single-pass key
    np.testing.assert_array_equal(ds.load(0, 0, draw=0)["image"], a["image"])
    np.testing.assert_array_equal(ds[(0, 0)]["image"], ds[(0, 0, 0)]["image"])
    assert not np.array_equal(ds.load(0, 0, draw=1)["image"], a["image"])
    assert not np.array_equal(ds[(0, 0, 1)]["image"], ds[(0, 0, 2)]["image"])
    # full_bg flips half the draws: over 4 faces x 6 epochs both outcomes occur, and each is consistent
    flips = [ds.load(i, e)["flipped"] for i in range(4) for e in range(6)]
    assert 0 < sum(flips) < len(flips)
    ds_flip = LandmarkDataset(cache, 64, augment={"preset": "none", "flip": 1.0})
    for i in range(4):
        d = ds_flip.load(i)
        assert d["flipped"]
        # subject's right eye (36-41) still on the image's left, pupils too
        assert d["landmarks"][36:42, 0].mean() < d["landmarks"][42:48, 0].mean()
        assert d["landmarks"][68, 0] < d["landmarks"][69, 0]
        # the matrix still maps original points to the swapped crop points
        from heatmark.data.crops import transform_points

        mapped = transform_points(d["matrix"], recs[i].landmarks)[ds_flip.scheme.flip_index]
        np.testing.assert_allclose(mapped, d["landmarks"], atol=1e-3)


def test_background_replacement_changes_only_background(fixtures):
    from heatmark.data.augment import replace_background

    rng = np.random.default_rng(0)
    img = np.full((64, 64, 3), 100, np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 5
    out = replace_background(img, mask, rng)
    assert (out[24:40, 24:40] == 100).all()  # foreground kept (away from the feathered edge)
    assert (out[:8] != 100).any()  # background replaced


def test_unknown_augment_key():
    from heatmark.data.augment import make_augment_config
    from heatmark.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown augmentation keys"):
        make_augment_config({"preset": "full", "rotate": 10})
    with pytest.raises(ConfigError, match="unknown augmentation preset"):
        make_augment_config("heavy")
