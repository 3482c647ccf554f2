"""Line plots of the benchmark report: log and linear x axes."""

import cv2
import numpy as np
import pytest

from heatmark.engine.plots import line_plot


def test_line_plot_linear_axis_from_zero(tmp_path):
    out = tmp_path / "mixing.png"
    line_plot([0, 10, 40, 100], [[8.7], [6.0, 6.2], [5.1], [4.8]], out, "real %", "NME (%)", log_x=False)
    img = cv2.imread(str(out))
    assert img is not None and img.shape == (420, 640, 3)
    assert (img != 255).any(axis=2).sum() > 2000  # axes, ticks and the curve were drawn


def test_line_plot_log_axis_needs_positive_x(tmp_path):
    with pytest.raises(ValueError, match="log_x=False"):
        line_plot([0, 10], [[1.0], [2.0]], tmp_path / "x.png", "x", "y")
    line_plot([10, 25, 50, 100], [[13.3], [11.2], [9.6], [8.7]], tmp_path / "size.png", "faces", "NME (%)")
    assert np.any(cv2.imread(str(tmp_path / "size.png")) != 255)
