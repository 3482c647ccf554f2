import subprocess
import sys

import cv2

from heatmark.cli import main


def test_data_show_bundled_default(tmp_path):
    out = tmp_path / "grid.png"
    assert main(["data", "show", "--out", str(out), "--n", "4", "--size", "96"]) == 0
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 96 and img.shape[1] > 4 * 96


def test_data_show_300w_augmented(fixtures, tmp_path):
    out = tmp_path / "g.png"
    assert main(["data", "show", "--dataset", "300w", "--root", str(fixtures / "300w"), "--augment", "full",
                 "--out", str(out), "--size", "64"]) == 0
    assert cv2.imread(str(out)) is not None


def test_input_error_is_one_line_exit_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "heatmark.cli", "data", "show", "--dataset", "300w", "--root",
                        str(tmp_path / "missing"), "--out", str(tmp_path / "g.png")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "missing" in r.stderr and "folder not found" in r.stderr


def test_help_lists_commands(capsys):
    import pytest

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "data" in capsys.readouterr().out
