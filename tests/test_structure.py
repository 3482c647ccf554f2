"""The shape of the code: light command line, typed configs, one evaluation pipeline, atomic writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from heatmark.cli import COMMANDS, main

PKG = Path(__file__).resolve().parents[1] / "heatmark"


def test_no_module_over_400_lines():
    long = {str(f.relative_to(PKG)): n for f in PKG.rglob("*.py") if (n := len(f.read_text().splitlines())) > 400}
    assert not long, f"split these modules: {long}"


def test_lint_is_clean():
    """pyflakes, pycodestyle and import order (ruff's E, F, W, I rules; line length from pyproject.toml) hold for
    the package, its tests and its tools, so a new error shows up in the test run rather than in review."""
    pytest.importorskip("ruff", reason="ruff comes with the test extra: pip install -e '.[test]'")
    root = PKG.parent
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "E,F,W,I", "--output-format", "concise",
                          "heatmark", "tests", "tools"], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("argv", [["--help"], *[[c, "--help"] for c in COMMANDS]])
def test_help_imports_no_torch(argv):
    code = ("import sys\nfrom heatmark.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip().endswith("NO-TORCH"), r.stdout[-300:] + r.stderr[-500:]


def test_importtime_of_help_lists_no_torch():
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "heatmark", "--help"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "usage: heatmark" in r.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert not {m for m in imported if m == "torch" or m.startswith("torch.")}


@pytest.mark.parametrize("override, key, shown", [
    ("optim.lr=abc", "optim.lr", "'abc'"),
    ("optim.lr=-0.001", "optim.lr", "greater than 0"),
    ("optim.batch_size=0", "optim.batch_size", "greater than or equal to 1"),
    ("eval.every=0", "eval.every", "greater than or equal to 1"),
    ("optim.nan=maybe", "optim.nan", "'stop' or 'skip'"),
    ("data.input_size=100", "data.input_size", "multiple of 32"),
    ("data.box_scale=0", "data.box_scale", "greater than 0.5"),
    ("seed=-1", "seed", "greater than or equal to 0"),
    ("codec.stride=2", "codec.stride", "model.options.stride=4"),
    ("codec.decoder=magic", "codec", "magic"),
    ("codec.sigma=-1", "codec", "sigma must be > 0"),
    ("loss.name=nope", "loss.params", "unknown loss 'nope'"),
    ("model.options.bogus=1", "model.options", "bogus"),
    ("model.head=cnn", "model.head", "'heatmap', 'pip' or 'regression'"),
    ("augment=wild", "augment", "wild"),
    ("data.train=[{dataset: facesynthetics, root: x, relabel: outline}]", "data.train.0.relabel", "silhouette"),
    ("data.train=[{dataset: facesynth, root: x}]", "data.train.0.dataset", "facesynth"),
])
def test_bad_config_values_exit_2_naming_the_key(override, key, shown, tmp_path, capsys):
    rc = main(["train", "--set", override, "--no-val", "--max-steps", "1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and key in err and shown in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # refused before anything ran


def test_cli_eval_and_grid_score_the_same(tiny_weights, fixtures, tmp_path, monkeypatch):
    """One evaluation pipeline: `heatmark eval` and the benchmark grid give the same numbers."""
    import shutil

    from heatmark.engine import grid

    assert main(["eval", "--dataset", "300w", "--root", str(fixtures / "300w"), "--weights",
                 str(tiny_weights["heatmap"]), "--json", str(tmp_path / "cli.json")]) == 0
    cli = json.loads((tmp_path / "cli.json").read_text())
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(tiny_weights["heatmap"], run_dir / "final.safetensors")
    cfg = {"seed": 0, "data": {"val": {"dataset": "300w", "root": str(fixtures / "300w")},
                               "cache_dir": str(tmp_path / "cache")}}
    monkeypatch.setattr(grid, "_measure_speed", lambda w, repeats=20: 0.0)  # timing is not under test here
    res = grid.evaluate_run(cfg, run_dir)
    assert res["metrics"]["n"] == cli["n"] > 0
    for k in ("nme", "nme_no_jaw", "fr@0.10", "auc@0.10", "mean_error_px"):
        assert res["metrics"][k] == pytest.approx(cli[k], abs=1e-9), k
    assert np.mean(res["per_image_nme"]) * 100 == pytest.approx(cli["nme"], abs=1e-4)
    assert set(cli["region_nme"]) == {"jaw", "brows", "nose", "eyes", "mouth"}


def test_atomic_write_leaves_nothing_behind_on_error(tmp_path):
    from heatmark.atomic import atomic_path, atomic_write

    atomic_write(tmp_path / "a.json", "{}")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "a.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert (tmp_path / "a.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    from heatmark.atomic import remove_stale_temporaries

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f".last.safetensors.tmp-{dead.pid}").write_bytes(b"x" * 10)
    (tmp_path / f".best.safetensors.tmp-{os.getpid()}").write_bytes(b"mine")  # a live writer's: kept
    (tmp_path / "last.safetensors").write_bytes(b"real")
    removed = remove_stale_temporaries(tmp_path)
    assert [p.name for p in removed] == [f".last.safetensors.tmp-{dead.pid}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".best.safetensors.tmp-{os.getpid()}", "last.safetensors"]


@pytest.mark.parametrize("flip", [False, True])
def test_eval_measures_what_landmarker_returns(tiny_weights, fixtures, flip):
    """Same crops, same network call, same decoder: eval's predictions are Landmarker's (GT boxes)."""
    from heatmark.api import Landmarker
    from heatmark.engine.evaluate import evaluate_weights

    res = evaluate_weights(tiny_weights["heatmap"], "300w", fixtures / "300w", flip=flip, device="cpu")
    lm = Landmarker(tiny_weights["heatmap"], detector=None, flip=flip)
    for r, p in zip(res.records, res.pred):
        lo, hi = r.landmarks.min(0), r.landmarks.max(0)
        face = lm.predict(r.load_image(), boxes=[[*lo, *hi]])[0]
        np.testing.assert_allclose(face.landmarks, p, atol=1e-3)
