"""The benchmark grid on fixtures: runs, resumes without redoing finished runs, and rebuilds its report."""

import json
import time

import pytest
import yaml

from heatmark.engine.grid import load_grid, remeasure_speed, run_config, run_grid, run_key
from heatmark.engine.grid_report import write_report


def test_grid_runs_skips_finished_and_reports(fixtures, tmp_path):
    fs, w3 = fixtures / "facesynthetics", fixtures / "300w"
    common = ["data.input_size=64", f"data.cache_dir={tmp_path / 'c'}", "data.workers=0", "augment=none",
              f"data.train=[{{dataset: facesynthetics, root: {fs}}}]"]
    grid = {
        "name": "tiny", "out": str(tmp_path / "res"), "report": str(tmp_path / "docs" / "benchmark.md"),
        "notes": str(tmp_path / "notes.md"),
        "budget": {"max_steps": 2, "samples_per_epoch": 4, "batch_size": 2},
        "eval": {"dataset": "300w", "root": str(w3)}, "set": common,
        "studies": [
            {"id": "head", "title": "Head", "seeds": [0, 1], "runs": [
                {"name": "regression", "config": "configs/regression.yaml",
                 "set": ["model.backbone=mobilenetv3_small"]},
                {"name": "heatmap", "config": "configs/heatmap.yaml"}]},
            {"id": "decoder", "decode_from": "head/heatmap", "decoders": ["argmax", "dark"]},
            {"id": "size", "x": True, "x_label": "faces", "runs": [
                {"name": "2", "x": 2, "config": "configs/heatmap.yaml",
                 "set": [f"data.train=[{{dataset: facesynthetics, root: {fs}, limit: 2}}]"]},
                {"name": "4", "x": 4, "config": "configs/heatmap.yaml"}]},
        ]}
    gfile = tmp_path / "grid.yaml"
    gfile.write_text(yaml.safe_dump(grid))
    (tmp_path / "notes.md").write_text("Hand-written reading.")
    g = load_grid(gfile)
    run_grid(g, log=lambda *a: None)
    res_dir = tmp_path / "res" / "runs"
    results = sorted(res_dir.glob("*/result.json"))
    assert len(results) == 5  # 2 heads x 2 seeds + size 2 (size 4 = the heatmap seed-0 run)
    key = run_key(run_config(g, g["studies"][0]["runs"][1], 0))
    assert (res_dir / key / "decoders.json").is_file()
    res0 = json.loads((res_dir / key / "result.json").read_text())
    assert res0["weights"] == "final" and (res_dir / key / "final.safetensors").is_file()
    stamps = {p: p.stat().st_mtime_ns for p in results}
    run_grid(g, log=lambda *a: None)  # nothing to redo
    assert {p: p.stat().st_mtime_ns for p in results} == stamps

    # a result scored before the final-weights rule is re-scored from the saved weights, not retrained
    old = dict(res0, weights="best", metrics=dict(res0["metrics"], nme=99.0))
    (res_dir / key / "result.json").write_text(json.dumps(old))
    (res_dir / key / "final.safetensors").unlink()  # older runs have only last.safetensors
    ckpt = (res_dir / key / "last.safetensors").stat().st_mtime_ns
    run_grid(g, log=lambda *a: None)
    new = json.loads((res_dir / key / "result.json").read_text())
    assert new["weights"] == "final" and new["metrics"]["nme"] == res0["metrics"]["nme"]
    assert new["train_seconds"] == res0["train_seconds"]
    assert (res_dir / key / "last.safetensors").stat().st_mtime_ns == ckpt
    for f in res_dir.glob("*/decoders.json"):  # the report only reads saved results, never computes
        f.rename(f.with_suffix(".bak"))
    report = write_report(g, command="heatmark bench transfer --grid grid.yaml")
    assert "_Not run yet._" in report.read_text() and not list(res_dir.glob("*/decoders.json"))
    for f in res_dir.glob("*/decoders.bak"):
        f.rename(f.with_suffix(".json"))
    t = time.perf_counter()
    report = write_report(g, command="heatmark bench transfer --grid grid.yaml")
    assert time.perf_counter() - t < 60
    text = report.read_text()
    assert "| regression | 2 |" in text and "| dark |" in text and "Hand-written reading." in text
    assert (report.parent / "benchmark" / "ced_head.png").is_file()
    assert (report.parent / "benchmark" / "size.png").is_file()

    assert remeasure_speed(g, log=lambda *a: None) == 5  # timings again, no training
    again = json.loads((res_dir / key / "result.json").read_text())
    assert again["ms_per_face"] > 0 and "speed_measured" in again and again["train_seconds"] == res0["train_seconds"]
    assert "re-measured" in write_report(g).read_text()
    assert again["speed_weights"] == "final"

    # a fresh clone has result.json files but no (git-ignored) checkpoints: the architecture is timed
    for f in res_dir.glob("*/*.safetensors"):
        f.unlink()
    assert remeasure_speed(g, only=["head"], log=lambda *a: None) == 4
    clone = json.loads((res_dir / key / "result.json").read_text())
    assert clone["ms_per_face"] > 0 and clone["speed_weights"].startswith("architecture")
    assert clone["metrics"] == again["metrics"] and not list(res_dir.glob("*/*.safetensors"))


def test_run_lock_keeps_two_grid_processes_apart_and_stale_locks_are_taken_over(tmp_path):
    import subprocess
    import sys

    from filelock import Timeout

    from heatmark.engine.grid import run_lock

    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from filelock import FileLock; "
                               f"l = FileLock({str(tmp_path / 'running.lock')!r}); l.acquire(); "
                               "print('held', flush=True); "
                               "time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(Timeout):  # another process trains this run
            run_lock(tmp_path).acquire(timeout=0)
    finally:
        holder.kill()
        holder.wait()
    lock = run_lock(tmp_path)
    lock.acquire(timeout=0)  # its process is gone: the lock is free again
    assert lock.is_locked
    lock.release()


def test_archived_grid_refuses_to_train(tmp_path):
    import pytest

    from heatmark.errors import ConfigError

    g = tmp_path / "g.yaml"
    g.write_text(yaml.safe_dump({"name": "old", "out": str(tmp_path / "res"), "archived": "old sampler.",
                                 "eval": {"dataset": "300w", "root": "x"}, "studies": []}))
    with pytest.raises(ConfigError, match="archived grid.*old sampler.*--report-only"):
        run_grid(load_grid(g))


def test_compare_grids_matches_rows_by_study_and_name_from_saved_results(tmp_path):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("compare_grids", Path("tools/compare_grids.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    def make(name, nmes, sets):
        g = {"name": name, "out": str(tmp_path / name), "eval": {"dataset": "300w", "root": "afw"},
             "studies": [{"id": "head", "seeds": [0, 1], "runs": [
                 {"name": "heatmap", "config": "configs/heatmap.yaml", "set": sets},
                 {"name": "new row", "config": "configs/regression.yaml"}]},
                 {"id": "decoder", "decode_from": "head/heatmap", "decoders": ["argmax", "dark"]}]}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(g))
        g = load_grid(tmp_path / f"{name}.yaml")
        for seed, nme in enumerate(nmes):  # results only: the tool never trains nor evaluates
            d = tmp_path / name / "runs" / run_key(run_config(g, g["studies"][0]["runs"][0], seed))
            d.mkdir(parents=True)
            (d / "result.json").write_text(json.dumps({"metrics": {"nme": nme}}))
            (d / "decoders.json").write_text(json.dumps({"_weights": "final", "argmax": {"nme": nme + 1},
                                                         "dark": {"nme": nme}}))
        return g

    a = make("v1", [9.0, 10.0], ["augment=none"])  # a different config: other run keys, same row names
    b = make("v2", [8.0], [])
    text = tool.compare(a, b, ("v1", "v2"))
    lines = text.splitlines()
    assert lines[2] == "| head | heatmap | 9.50 ± 0.71 (2) | 8.00 (1) | -1.50 |"
    assert lines[3] == "| head | new row | – | – | – |"
    assert lines[4] == "| decoder | argmax | 10.50 ± 0.71 (2) | 9.00 (1) | -1.50 |"
    assert len(lines) == 6
