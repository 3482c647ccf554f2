"""The synthetic→real benchmark: a grid of training runs from one YAML file, resumable, and its report.

Grid file (``configs/bench/*.yaml``)::

    name: transfer
    out: bench_results/transfer          # result.json files (committed); checkpoints are git-ignored
    budget: {max_steps: 1500, samples_per_epoch: 1600}   # the same fixed compute for every run
    eval: {dataset: 300w, root: ../shared/data/300w_afw}
    set: []                              # overrides for every run
    studies:
      - id: head
        title: Head
        seeds: [0, 1, 2]
        runs:
          - {name: regression, config: configs/regression.yaml, set: [...]}
      - id: decoder                      # no training: one run's weights decoded several ways
        decode_from: head/heatmap
        decoders: [argmax, quarter, dark, soft_argmax, local_soft_argmax]

A run is identified by a hash of its final config and seed, so the same recipe in several studies trains
once. A run folder with ``result.json`` is finished and never redone; one with only ``last.safetensors``
resumes. The report (``docs/benchmark.md`` + plots) is rebuilt from the result files alone.

Every run is scored with its *final* weights (the end of the fixed budget). The eval set is also the
trainer's validation set, so scoring the validation-best checkpoint would select on the test set; results
written before this rule (``"weights": "best"``) are re-evaluated from the final weights without retraining.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import yaml
from filelock import Timeout

from heatmark.atomic import atomic_write
from heatmark.config import apply_overrides, load_config, merge_config
from heatmark.errors import ConfigError

GRID_KEYS = {"name", "out", "budget", "eval", "set", "studies", "report", "notes", "archived"}
STUDY_KEYS = {"id", "title", "seeds", "runs", "decode_from", "decoders", "x", "x_label", "x_log", "regions"}
RUN_KEYS = {"name", "config", "set", "x"}


def load_grid(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: grid file not found")
    g = yaml.safe_load(path.read_text()) or {}
    bad = set(g) - GRID_KEYS
    if bad:
        raise ConfigError(f"{path}: unknown grid keys {sorted(bad)}; valid: {sorted(GRID_KEYS)}")
    for st in g.get("studies") or []:
        bad = set(st) - STUDY_KEYS
        if bad:
            raise ConfigError(f"{path}: study {st.get('id')}: unknown keys {sorted(bad)}; valid: {sorted(STUDY_KEYS)}")
        for r in st.get("runs") or []:
            bad = set(r) - RUN_KEYS
            if bad:
                raise ConfigError(f"{path}: run {r.get('name')}: unknown keys {sorted(bad)}; valid: {sorted(RUN_KEYS)}")
    g["_path"] = str(path)
    return g


def run_config(grid: dict, run: dict, seed: int) -> dict:
    cfg = load_config(run.get("config"))
    b = grid.get("budget") or {}
    budget = [f"optim.max_steps={b['max_steps']}"] if "max_steps" in b else []
    if "samples_per_epoch" in b:
        budget.append(f"data.samples_per_epoch={b['samples_per_epoch']}")
    if "batch_size" in b:
        budget.append(f"optim.batch_size={b['batch_size']}")
    cfg = apply_overrides(cfg, [*budget, *(grid.get("set") or []), *(run.get("set") or []), f"seed={seed}"])
    if grid.get("eval"):
        cfg = merge_config(cfg, {"data": {"val": dict(grid["eval"])}})
    return cfg


def run_key(cfg: dict) -> str:
    return hashlib.sha1(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]


def results_dir(grid: dict, out: str | Path | None = None) -> Path:
    """Where a grid's runs live: ``out`` when given, else the grid's ``out`` key, else ``bench_results``."""
    return Path(out or grid.get("out") or "bench_results")


SPEED_REPEATS = 20  # batch-1 passes timed right after a run's training (median)
REMEASURE_REPEATS = 100  # and by --remeasure-speed, on a quiet machine


def _measure_speed(weights: Path, repeats: int = SPEED_REPEATS) -> float:
    from heatmark.engine.bench import bench_speed

    rows = bench_speed(weights, (1,), repeats)
    return float(next(r["ms_per_face"] for r in rows if r["backend"] == "torch"))


def final_weights(run_dir: Path) -> Path:
    """The end-of-budget weights of a finished run (``final.safetensors``; runs trained before it existed
    have the same weights in ``last.safetensors``)."""
    f = run_dir / "final.safetensors"
    if f.is_file():
        return f
    from heatmark.checkpoint import load_model, save_model

    model, _, _, meta = load_model(run_dir / "last.safetensors")  # model.* tensors (grid runs use no EMA)
    meta = {k: v for k, v in meta.items() if k not in ("optim_groups", "scheduler")}
    save_model(f, model, {**meta, "kind": "weights"})
    return f


def time_run(cfg: dict, run_dir: Path, repeats: int = SPEED_REPEATS) -> tuple[float, str]:
    """ms/face of a finished run, and which weights were timed. Checkpoints are git-ignored, so a fresh clone
    has only ``result.json``: then the run's architecture is built from its config with random weights. The
    forward pass and the decoder do the same arithmetic whatever the weight values, so ms/face is the same."""
    if (run_dir / "final.safetensors").is_file() or (run_dir / "last.safetensors").is_file():
        return _measure_speed(final_weights(run_dir), repeats), "final"
    import torch

    from heatmark.checkpoint import model_meta, save_model
    from heatmark.data.schemes import get_scheme
    from heatmark.engine.trainer import model_and_codec
    from heatmark.models import count_parameters

    scheme = get_scheme(cfg["data"]["scheme"])
    torch.manual_seed(0)
    model, codec = model_and_codec(cfg, scheme)
    with tempfile.TemporaryDirectory(prefix="heatmark-speed-") as tmp:
        path = Path(tmp) / "stand_in.safetensors"
        save_model(path, model, model_meta(model, codec, scheme, cfg["data"]["input_size"], cfg["data"]["box_scale"],
                                           params=count_parameters(model), kind="weights"))
        ms = _measure_speed(path, repeats)
    return ms, "architecture from config.json (random weights; checkpoint not in this checkout)"


def _write_json(path: Path, obj) -> None:
    atomic_write(path, json.dumps(obj, indent=1))


def _eval_set(cfg: dict, scheme, meta: dict):
    """The grid's eval set (its ``data.val``) as the run's model crops it, cached beside the training crops."""
    from heatmark.data.cache import default_cache_dir
    from heatmark.engine.data import source_tag
    from heatmark.engine.evaluate import load_eval_set

    val = cfg["data"]["val"]
    return load_eval_set(val["dataset"], val["root"], int(meta["input_size"]), float(meta["box_scale"]), scheme,
                         val.get("scheme"), cache_dir=cfg["data"].get("cache_dir") or default_cache_dir(),
                         tag=source_tag(val))


def evaluate_run(cfg: dict, run_dir: Path) -> dict:
    """Metrics, per-image NME, size and speed of a finished run's final weights on the eval set."""
    from heatmark.checkpoint import load_model
    from heatmark.engine.evaluate import evaluate_model

    w = final_weights(run_dir)
    model, codec, scheme, meta = load_model(w)
    result = evaluate_model(model, codec, scheme, _eval_set(cfg, scheme, meta), subsets=False)
    return {"config": cfg, "weights": "final", "metrics": result.metrics,
            "per_image_nme": [round(float(v), 6) for v in result.per_image],
            "params_m": meta.get("params", sum(p.numel() for p in model.parameters())) / 1e6,
            "ms_per_face": _measure_speed(w)}


def train_and_evaluate(cfg: dict, run_dir: Path, log=print) -> dict:
    """Train (or resume) one run, evaluate its final weights on the eval set, write result.json."""
    from heatmark.engine.bench import cpu_name
    from heatmark.engine.trainer import Trainer

    result_file = run_dir / "result.json"
    if result_file.is_file():
        res = json.loads(result_file.read_text())
        if res.get("weights") != "final":  # scored on the validation-best checkpoint: re-score, no training
            res.update(evaluate_run(cfg, run_dir))
            _write_json(result_file, res)
        return res
    run_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    resume = (run_dir / "last.safetensors").is_file()
    trainer = Trainer(cfg, run_dir, resume=resume, progress=False, log=log, force=not resume)  # the grid owns it
    trainer.fit()
    train_s = time.perf_counter() - t0
    steps, device = trainer.step, str(trainer.device)
    # free the trainer (and its persistent loader workers) now: left for the garbage collector, the old
    # loader iterator could be collected inside the next run's forked workers, which prints
    # "AssertionError: can only test a child process" from DataLoader.__del__
    del trainer
    gc.collect()
    res = {**evaluate_run(cfg, run_dir), "train_seconds": train_s, "steps": steps,
           "machine": f"{platform.machine()} {platform.node()}", "cpu": cpu_name(), "device": device,
           "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    _write_json(result_file, res)
    return res


def decode_study(grid: dict, study: dict, out: Path, log=print, compute: bool = True) -> dict:
    """Re-evaluate one trained run's weights with each decoder (no training). With ``compute=False``
    only the saved results are read (the report never computes)."""
    from heatmark.checkpoint import load_model
    from heatmark.engine.evaluate import evaluate_model

    src_study, src_run = study["decode_from"].split("/")
    st = next(s for s in grid["studies"] if s["id"] == src_study)
    run = next(r for r in st["runs"] if r["name"] == src_run)
    results = {}
    for seed in study.get("seeds") or st.get("seeds") or [0]:
        cfg = run_config(grid, run, seed)
        run_dir = out / "runs" / run_key(cfg)
        f = run_dir / "decoders.json"
        if f.is_file():
            saved = json.loads(f.read_text())
            if saved.pop("_weights", None) == "final" or not compute:
                results[seed] = saved
                continue
        if not compute:
            continue
        if not (run_dir / "result.json").is_file():
            log(f"decoder study: {run_dir} is not finished yet; run its training first")
            continue
        model, codec, scheme, meta = load_model(final_weights(run_dir))
        data = _eval_set(cfg, scheme, meta)
        res = {d: evaluate_model(model, codec, scheme, data, decoder=d, subsets=False).metrics
               for d in study["decoders"]}
        _write_json(f, {"_weights": "final", **res})
        results[seed] = res
    return results


def remeasure_speed(grid: dict, out: str | Path | None = None, only: list[str] | None = None, log=print) -> int:
    """Time every finished run's final weights again (ms/face, torch, batch 1), one after another. Meant for a
    quiet machine: speeds taken right after training share the CPU with whatever else was running."""
    from heatmark.engine.bench import cpu_name

    out = results_dir(grid, out)
    seen: set[Path] = set()
    for study in grid["studies"]:
        if (only and study["id"] not in only) or study.get("decode_from"):
            continue
        for run in study["runs"]:
            for seed in study.get("seeds") or [0]:
                run_dir = out / "runs" / run_key(run_config(grid, run, seed))
                f = run_dir / "result.json"
                if not f.is_file() or run_dir in seen:  # a recipe shared by several studies is timed once
                    continue
                seen.add(run_dir)
                res = json.loads(f.read_text())
                load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
                ms, source = time_run(res["config"], run_dir, REMEASURE_REPEATS)
                res.update(ms_per_face=ms, speed_load=load, speed_weights=source, speed_cpu=cpu_name(),
                           speed_measured=time.strftime("%Y-%m-%d %H:%M:%S"))
                _write_json(f, res)
                log(f"[{study['id']}] {run['name']} seed {seed}: {res['ms_per_face']:.2f} ms/face "
                    f"(load {load}; {source})")
    return len(seen)


def run_lock(run_dir: Path):
    """``running.lock`` in a run folder while a process trains it (an OS file lock, via ``filelock``), so that two
    grid processes side by side (say ``--only head`` and ``--only size``) never train the same shared run at once.
    The OS releases it when its process dies; the run then resumes from its last checkpoint."""
    from filelock import FileLock

    run_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(run_dir / "running.lock")


def run_grid(grid: dict, out: str | Path | None = None, only: list[str] | None = None, log=print,
             seeds: list[int] | None = None) -> None:
    """Train and evaluate every unfinished run (of the studies in ``only``, of the seeds in ``seeds``)."""
    out = results_dir(grid, out)
    if grid.get("archived"):
        raise ConfigError(f"{grid.get('_path', 'grid')}: archived grid, its results cannot be trained again with "
                          f"this code: {grid['archived']} Rebuild its report with --report-only.")
    for study in grid["studies"]:
        if only and study["id"] not in only:
            continue
        if study.get("decode_from"):
            decode_study(grid, study, out, log)
            continue
        for run in study["runs"]:
            for seed in study.get("seeds") or [0]:
                if seeds is not None and seed not in seeds:
                    continue
                cfg = run_config(grid, run, seed)
                run_dir = out / "runs" / run_key(cfg)
                done = run_dir / "result.json"
                if done.is_file() and json.loads(done.read_text()).get("weights") == "final":
                    continue
                lock = run_lock(run_dir)
                try:
                    lock.acquire(timeout=0)
                except Timeout:
                    log(f"[{study['id']}] {run['name']} seed {seed}: skipped, another process is training it")
                    continue
                log(f"[{study['id']}] {run['name']} seed {seed} -> {run_dir}")
                try:
                    res = train_and_evaluate(cfg, run_dir, log=lambda *a: None)
                finally:
                    lock.release()
                log(f"[{study['id']}] {run['name']} seed {seed}: NME {res['metrics']['nme']:.2f}% "
                    f"({res['train_seconds'] / 60:.1f} min)")
