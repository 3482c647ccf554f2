"""Line plots of the benchmark report (log and linear x axes) and tools/compare_runs.py."""

from pathlib import Path

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


def test_compare_runs_tabulates_curves_and_plots_them(tmp_path, capsys):
    """tools/compare_runs.py: final, tail-mean and best validation NME per run, the starting weights, one plot."""
    import json
    import runpy

    for name, seed, init, nmes in (("a", 0, None, [9.0, 5.0, 4.0, 4.2]), ("b", 1, "synthetic", [5.0, 4.5, 4.1, 4.0])):
        run = tmp_path / name
        run.mkdir()
        rows = [{"step": 100 * (i + 1), "val_nme": v} for i, v in enumerate(nmes)]
        (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        (run / "config.json").write_text(json.dumps({"seed": seed, "model": {"init": init} if init else {}}))
    main = runpy.run_path(str(Path(__file__).resolve().parents[1] / "tools" / "compare_runs.py"))["main"]
    assert main([str(tmp_path / "a"), str(tmp_path / "b"), "--tail", "200", "--plot", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    assert f"| {tmp_path / 'a'} | 0 | random | 400 | 4.200 | 4.100 | 4.000 |" in out  # tail: steps 300 and 400
    assert f"| {tmp_path / 'b'} | 1 | synthetic | 400 | 4.000 | 4.050 | 4.000 |" in out
    assert (tmp_path / "c.png").stat().st_size > 1000
    with pytest.raises(SystemExit, match="metrics.jsonl: not found"):
        main([str(tmp_path / "missing")])
