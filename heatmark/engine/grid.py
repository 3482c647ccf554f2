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

import numpy as np
import yaml

from heatmark.config import merge_config, apply_overrides, load_config
from heatmark.errors import ConfigError

GRID_KEYS = {"name", "out", "budget", "eval", "set", "studies", "report", "notes", "archived"}
STUDY_KEYS = {"id", "title", "seeds", "runs", "decode_from", "decoders", "x", "x_label", "x_log"}
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
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    tmp.replace(path)


def evaluate_run(cfg: dict, run_dir: Path) -> dict:
    """Metrics, per-image NME, size and speed of a finished run's final weights on the eval set."""
    from heatmark.checkpoint import load_model
    from heatmark.engine.data import build_source
    from heatmark.engine.evaluate import common_scheme, evaluate, predict_dataset
    from heatmark.engine.metrics import nme

    w = final_weights(run_dir)
    model, codec, scheme, meta = load_model(w)
    ds, records = build_source(cfg["data"]["val"], cfg["data"], scheme, None, cfg["seed"], train=False)
    pred, _ = predict_dataset(model, codec, ds, 32)
    metrics = evaluate(pred, scheme, records)
    p, g, vis, sch = common_scheme(pred, scheme, records)
    return {"config": cfg, "weights": "final", "metrics": metrics,
            "per_image_nme": [round(float(v), 6) for v in nme(p, g, sch, "default", vis)],
            "params_m": meta["params"] / 1e6, "ms_per_face": _measure_speed(w)}


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
    trainer = Trainer(cfg, run_dir, resume=resume, progress=False, log=log)
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
    from heatmark.engine.data import build_source
    from heatmark.engine.evaluate import evaluate, predict_dataset

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
        model, codec, scheme, _ = load_model(final_weights(run_dir))
        ds, records = build_source(cfg["data"]["val"], cfg["data"], scheme, None, seed, train=False)
        res = {}
        for d in study["decoders"]:
            pred, _ = predict_dataset(model, codec, ds, 32, decoder=d)
            res[d] = evaluate(pred, scheme, records)
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


class RunLock:
    """``running.lock`` in a run folder while a process trains it, so that two grid processes side by side (say
    ``--only head`` and ``--only size``) never train the same shared run at once. A lock whose process is gone
    (killed, crashed) is stale and taken over; the run then resumes from its last checkpoint."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / "running.lock"

    def holder(self) -> int | None:
        try:
            pid = int(self.path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid if pid != os.getpid() else None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if self.holder() is not None:
                    return False
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()} {platform.node()}\n")
            return True
        return False

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


def run_grid(grid: dict, out: str | Path | None = None, only: list[str] | None = None, log=print) -> None:
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
                cfg = run_config(grid, run, seed)
                run_dir = out / "runs" / run_key(cfg)
                done = run_dir / "result.json"
                if done.is_file() and json.loads(done.read_text()).get("weights") == "final":
                    continue
                lock = RunLock(run_dir)
                if not lock.acquire():
                    log(f"[{study['id']}] {run['name']} seed {seed}: skipped, process {lock.holder()} is training it")
                    continue
                log(f"[{study['id']}] {run['name']} seed {seed} -> {run_dir}")
                try:
                    res = train_and_evaluate(cfg, run_dir, log=lambda *a: None)
                finally:
                    lock.release()
                log(f"[{study['id']}] {run['name']} seed {seed}: NME {res['metrics']['nme']:.2f}% "
                    f"({res['train_seconds'] / 60:.1f} min)")


# ---------------------------------------------------------------------- report
def fmt_mean_std(vals: list[float], digits: int = 2) -> str:
    """"–" for none, the value for one, "mean ± std" (sample std) for several."""
    if not vals:
        return "–"
    if len(vals) == 1:
        return f"{vals[0]:.{digits}f}"
    return f"{np.mean(vals):.{digits}f} ± {np.std(vals, ddof=1):.{digits}f}"


def _no_jaw(result: dict) -> float:
    """NME over the inner points; equal to the mean of per_point_nme over them (same per-image norm)."""
    m = result["metrics"]
    if "nme_no_jaw" in m:
        return m["nme_no_jaw"]
    from heatmark.data.schemes import get_scheme
    from heatmark.engine.metrics import no_jaw_points

    idx = no_jaw_points(get_scheme(m["scheme"]))
    return float(np.mean(np.asarray(m["per_point_nme"])[idx])) if idx is not None else m["nme"]


def collect(grid: dict, out: Path) -> dict:
    """{study id: [(run, [result per finished seed])]} from the result files."""
    table = {}
    for study in grid["studies"]:
        if study.get("decode_from"):
            continue
        rows = []
        for run in study["runs"]:
            res = []
            for seed in study.get("seeds") or [0]:
                f = out / "runs" / run_key(run_config(grid, run, seed)) / "result.json"
                if f.is_file():
                    res.append(json.loads(f.read_text()))
            rows.append((run, res))
        table[study["id"]] = rows
    return table


def write_report(grid: dict, out: str | Path | None = None, report: str | Path | None = None,
                 command: str | None = None) -> Path:
    from heatmark.engine.plots import ced_plot, line_plot

    out = results_dir(grid, out)
    report = Path(report or grid.get("report") or "docs/benchmark.md")
    img_dir = report.parent / report.stem  # docs/benchmark.md -> docs/benchmark/*.png
    img_dir.mkdir(parents=True, exist_ok=True)
    table = collect(grid, out)
    b = grid.get("budget") or {}
    all_res = [r for rows in table.values() for _, rs in rows for r in rs]
    machines = sorted({f"{r.get('cpu') or r['machine'].split()[0]} ({r['device']})" for r in all_res})
    speed_cpus = sorted({r["speed_cpu"] for r in all_res if r.get("speed_cpu")})
    unique = list({run_key(r["config"]): r for r in all_res}.values())  # a run shared by several studies counts once
    remeasured = sum("speed_measured" in r for r in unique)
    speed_note = ("measured right after each run's training" if not remeasured else
                  "re-measured one run after another by `--remeasure-speed` (all runs)" if remeasured == len(unique) else
                  f"re-measured one run after another by `--remeasure-speed` ({remeasured} of {len(unique)} runs; "
                  "the others right after their training)")
    if speed_cpus:
        speed_note += f" on {', '.join(speed_cpus)}"
    stand_in = sum(str(r.get("speed_weights", "final")).startswith("architecture") for r in unique)
    if stand_in:
        speed_note += (f"; {stand_in} of them timed as their architecture with random weights (the checkpoint was "
                       "not in the checkout; the arithmetic, hence the time, does not depend on weight values)")
    lines = [f"# Benchmark: {grid.get('name', 'grid')} — synthetic → real transfer", "",
             "Generated by the command below from the saved results; do not edit by hand (the reading at the end",
             f"comes from `{grid.get('notes', 'docs/benchmark_notes.md')}`).", "",
             "```bash", command or f"heatmark bench transfer --grid {grid['_path']}", "```", "",
             f"- Training: synthetic faces only unless a row says otherwise; budget {b.get('max_steps', '?')} steps "
             f"of batch {all_res[0]['config']['optim']['batch_size'] if all_res else '?'} per run, seeds as listed.",
             f"- Evaluation: {grid['eval']['dataset']} `{grid['eval']['root']}`, ground-truth boxes, 68 points, NME "
             "normalised by the outer-eye-corner distance, in %. FR and AUC at 0.10.",
             f"- Machines: {', '.join(machines) or '–'}; ms/face is the landmark stage (torch, batch 1, CPU), "
             f"{speed_note}.",
             "- Every run is scored with its final weights (end of the budget), not a checkpoint chosen on the eval set.",
             f"- Training runs finished: {len(unique)} (a run that serves several studies, such as the heatmap "
             f"baseline, is trained once); their recorded training times add up to "
             f"{sum(r.get('train_seconds', 0) for r in unique) / 3600:.1f} h.", ""]
    for study in grid["studies"]:
        lines += [f"## {study.get('title', study['id'])}", ""]
        if study.get("decode_from"):
            res = decode_study(grid, study, out, log=lambda *a: None, compute=False)
            if not res:
                lines += ["_Not run yet._", ""]
                continue
            lines += [f"Weights of `{study['decode_from']}` decoded each way (seeds {sorted(res)}).", "",
                      "| decoder | NME % | FR@0.10 % | AUC@0.10 % |", "| --- | ---: | ---: | ---: |"]
            for d in study["decoders"]:
                vals = [r[d] for r in res.values() if d in r]
                lines.append(f"| {d} | {fmt_mean_std([v['nme'] for v in vals])} | "
                             f"{fmt_mean_std([v['fr@0.10'] for v in vals], 1)} | "
                             f"{fmt_mean_std([v['auc@0.10'] for v in vals], 1)} |")
            lines.append("")
            continue
        rows = table[study["id"]]
        lines += ["| run | seeds | NME % | NME w/o jaw % | FR@0.10 % | AUC@0.10 % | params (M) | ms/face |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for run, rs in rows:
            if not rs:
                lines.append(f"| {run['name']} | 0 | _not run yet_ | | | | | |")
                continue
            m = [r["metrics"] for r in rs]
            lines.append(f"| {run['name']} | {len(rs)} | {fmt_mean_std([x['nme'] for x in m])} | "
                         f"{fmt_mean_std([_no_jaw(r) for r in rs])} | "
                         f"{fmt_mean_std([x['fr@0.10'] for x in m], 1)} | "
                         f"{fmt_mean_std([x['auc@0.10'] for x in m], 1)} | "
                         f"{rs[0]['params_m']:.2f} | {fmt_mean_std([r['ms_per_face'] for r in rs], 1)} |")
        lines.append("")
        done = [(run, rs) for run, rs in rows if rs]
        if done:
            curves = {run["name"]: np.concatenate([r["per_image_nme"] for r in rs]) for run, rs in done}
            ced_plot(curves, 0.10, img_dir / f"ced_{study['id']}.png",
                     f"{study['id']}: CED of NME on {Path(grid['eval']['root']).name}")
            lines += [f"![CED {study['id']}]({img_dir.name}/ced_{study['id']}.png)", ""]
            if study.get("x"):
                xs = [float(run.get("x", i)) for i, (run, _) in enumerate(done)]
                ys = [[r["metrics"]["nme"] for r in rs] for _, rs in done]
                line_plot(xs, ys, img_dir / f"{study['id']}.png", study.get("x_label", "x"), "NME (%)",
                          study.get("title", study["id"]), log_x=study.get("x_log", True))
                lines += [f"![{study['id']}]({img_dir.name}/{study['id']}.png)", ""]
    notes = Path(grid.get("notes", "docs/benchmark_notes.md"))
    lines += ["## Reading", ""]
    lines += [notes.read_text().strip(), ""] if notes.is_file() else ["_No reading written yet._", ""]
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(lines))
    return report
