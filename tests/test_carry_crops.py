"""tools/make_carry_crops.py: a shrunk 300W copy is again a 300W folder whose landmarks sit on the same image
content, framed as asked."""

import runpy
from pathlib import Path

import numpy as np
import pytest

from heatmark.data.crops import box_from_landmarks, crop_matrix, transform_points
from heatmark.data.readers import load_dataset

TOOL = Path(__file__).parents[1] / "tools" / "make_carry_crops.py"


def test_shrunk_copy_keeps_landmarks_on_the_face(fixtures, tmp_path):
    main = runpy.run_path(str(TOOL))["main"]
    out = tmp_path / "small"
    assert main([str(fixtures / "300w"), str(out), "--box", "64", "--context", "2.0", "--quality", "95"]) == 0
    src, small = load_dataset("300w", fixtures / "300w"), load_dataset("300w", out)
    assert [r.name for r in small] == [r.name for r in src]
    for a, b in zip(src, small):
        img = b.load_image()
        assert img.shape == (128, 128, 3)
        box = box_from_landmarks(b.landmarks, 1.0)
        assert box.size == pytest.approx(64, abs=0.01) and (box.cx, box.cy) == pytest.approx((64, 64), abs=0.01)
        # the same points as mapping the original ones through the crop, and the same picture under them
        m = crop_matrix(box_from_landmarks(a.landmarks, 2.0), 128)
        np.testing.assert_allclose(b.landmarks, transform_points(m, a.landmarks), atol=1e-3)
        orig = a.load_image()
        inside = (b.landmarks >= 2).all(1) & (b.landmarks < 126).all(1)
        xy = np.floor(b.landmarks[inside]).astype(int)
        oxy = np.floor(a.landmarks[inside]).astype(int)
        assert np.abs(img[xy[:, 1], xy[:, 0]].astype(float) - orig[oxy[:, 1], oxy[:, 0]]).mean() < 40
    with pytest.raises(SystemExit, match="already holds files"):
        main([str(fixtures / "300w"), str(out)])
