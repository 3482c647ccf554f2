"""Package a finished training run as a shipped model: heatmark/weights/NAME.safetensors + NAME.json (the card).

    python tools/package_model.py runs/default --name default --label "synthetic-only" [--eval-root DIR]

Takes the run's end-of-training weights (``final.safetensors``, never the validation-best checkpoint, since
the validation set is also the evaluation set), stores the parameters as float16 (buffers stay float32; the
loader casts back to float32), then measures the *shipped file*: ``heatmark eval`` on AFW with GT boxes, and
``heatmark bench speed`` (ms per face, torch and onnxruntime, batch 1 and 32). The card (training data, config,
commit, accuracy, speed, machine, commands) goes into the file's metadata and its JSON sidecar.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the terms of each training source (../shared/data/README.md), copied into the card
DATA_TERMS = {
    "facesynthetics": "Microsoft FaceSynthetics, Computational Use of Data Agreement (C-UDA) v1.0: "
                      "non-commercial research",
    "300w": "iBUG 300-W: research, non-commercial",
    "coco": "pseudo-labels written by heatmark (a teacher model) for 300W-Helen photos; the photos' terms apply: "
            "research, non-commercial",
}
WEIGHTS_TERMS = ("trained on data licensed for non-commercial research only; treat the weights the same way (no "
                 "commercial use) unless you retrain them on data you may use commercially")


def commit() -> str:
    rev = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "heatmark", "configs"], capture_output=True,
                           text=True, cwd=ROOT).stdout.strip()
    return rev + ("+uncommitted changes" if dirty else "")


def count_faces(entry: dict) -> int | None:
    from heatmark.data.readers import load_dataset

    try:
        n = len(load_dataset(entry["dataset"], entry["root"]))
        return min(n, int(entry["limit"])) if entry.get("limit") else n
    except Exception:  # noqa: BLE001 - the card still records the source
        return None


def init_record(init: str, recorded: dict | None) -> dict:
    """What the run started from (config ``model.init``): the weights, their digest (as the trainer recorded it;
    checked against the file now) and, for a shipped model, the training data and terms from its own card."""
    from heatmark.checkpoint import load_tensors, weights_digest
    from heatmark.shipped import resolve_weights

    path = resolve_weights(init)
    tensors, src_meta = load_tensors(path)
    now = weights_digest(tensors)
    out = {"weights": init, "sha256": (recorded or {}).get("sha256", now)}
    if out["sha256"] != now:
        sys.exit(f"model.init {init}: the weights in {path} changed since the run started from them (digest "
                 f"{now[:12]}, recorded {out['sha256'][:12]}); package with the weights the run started from")
    src_card = src_meta.get("card")
    if src_card:  # a shipped model: what its own card says
        out.update({k: src_card[k] for k in ("label", "training_data", "seed", "steps", "train_command",
                                             "initialised_from") if k in src_card})  # the whole chain
    else:  # a training run's weights: what its config says
        cfg = src_meta.get("config") or {}
        out.update({"training_data": training_data(cfg), "seed": cfg.get("seed"), "steps": src_meta.get("step")})
    return out


def training_data(cfg: dict) -> list[dict]:
    """A run config's training sources with their face counts and terms, for a card."""
    return [{**e, "faces": count_faces(e), "terms": DATA_TERMS.get(e["dataset"], "see the source")}
            for e in (cfg.get("data") or {}).get("train", [])]


def write_docs(run: Path, docs: Path, card: dict) -> None:
    """The run's metrics.jsonl, its validation curve (NME vs step) and the card, for docs/results/."""
    from heatmark.engine.plots import line_plot

    docs.mkdir(parents=True, exist_ok=True)
    lines = (run / "metrics.jsonl").read_text()
    (docs / "metrics.jsonl").write_text(lines)
    rows = [json.loads(x) for x in lines.splitlines() if x.strip()]
    rows = [r for r in rows if r.get("val_nme") is not None]
    line_plot([r["step"] for r in rows], [[r["val_nme"]] for r in rows], docs / "curve.png", "training step",
              "NME %", f"{card['name']}: NME on the validation set during training", log_x=False)
    (docs / "card.json").write_text(json.dumps(card, indent=1))


def write_onnx(weights: Path) -> Path:
    """NAME.onnx beside NAME.safetensors, with the same description (codec, scheme, card) in its metadata:
    what ``Landmarker()`` runs on onnxruntime without importing torch."""
    from heatmark.checkpoint import load_model
    from heatmark.export import export_onnx

    model, _, _, meta = load_model(weights)
    return export_onnx(model, int(meta["input_size"]), weights.with_suffix(".onnx"), meta=meta)


def eval_json(cli, root: str, weights: Path, *extra: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        js = Path(tmp) / "eval.json"
        cli(["eval", "--dataset", "300w", "--root", root, "--weights", str(weights), "--json", str(js), *extra])
        return json.loads(js.read_text())


def calibration_crops(fp32: Path, photos: str, limit: int = 200):
    """The face crops int8 calibration sees: the default detector's faces in ``photos`` (labels never read)."""
    from heatmark.cli.predict import iter_images
    from heatmark.quantize import face_crops

    return face_crops(fp32, list(iter_images([photos], recursive=True)), limit)


def onnx_ms_per_face(path: Path, repeats: int = 200) -> float:
    """Median ms per face at batch 1 through the torch-free predictor (crop in, points out)."""
    import numpy as np

    from heatmark.onnx_runtime import OnnxPredictor

    p = OnnxPredictor(path)
    crop = np.random.default_rng(0).integers(0, 255, (1, p.input_size, p.input_size, 3), dtype=np.uint8)
    for _ in range(20):
        p.run_crops(crop)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        p.run_crops(crop)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


def int8_check(cli, dst: Path, root: str, photos: str, crops, fp32_torch_nme: float) -> dict:
    """int8 against fp32 ONNX: AFW NME and ms/face. Shipped (and used by Landmarker) only if it loses at most
    0.1 NME points and is faster."""
    from heatmark.quantize import quantize_int8

    with tempfile.TemporaryDirectory() as tmp:
        q = quantize_int8(dst.with_suffix(".onnx"), Path(tmp) / "q.onnx", crops)
        nme_fp32 = eval_json(cli, root, dst.with_suffix(".onnx"))["nme"]
        nme_int8 = eval_json(cli, root, q)["nme"]
        ms_fp32, ms_int8 = onnx_ms_per_face(dst.with_suffix(".onnx")), onnx_ms_per_face(q)
    shipped = nme_int8 - nme_fp32 <= 0.1 and ms_int8 < ms_fp32
    return {"calibration": f"face crops of {photos} (photos only; MTCNN boxes)", "nme_fp32_onnx": nme_fp32,
            "nme_int8": nme_int8, "nme_fp32_torch": fp32_torch_nme, "ms_per_face_fp32_onnx_b1": round(ms_fp32, 3),
            "ms_per_face_int8_b1": round(ms_int8, 3), "shipped": bool(shipped),
            "rule": "shipped as NAME.int8.onnx (and run by Landmarker) only if it loses <= 0.1 NME points "
                    "and is faster"}


def detector_accuracy(cli, root: str, weights: Path, name: str) -> dict:
    """The card's detector-box accuracy: ``heatmark eval --boxes detector`` (MTCNN) of what Landmarker runs."""
    det = eval_json(cli, root, weights, "--boxes", "detector")
    return {"detector": "mtcnn", **{k: det[k] for k in ("faces", "found", "detector_recall", "nme", "nme_no_jaw",
                                                        "fr@0.10", "auc@0.10") if k in det},
            "command": f"heatmark eval --dataset 300w --root {root} --weights {name} --boxes detector"}


def write_shipped(dst: Path, tensors: dict, meta: dict, crops) -> None:
    """The final files: NAME.safetensors (+ .json) with ``meta``'s card, and the ONNX file Landmarker runs, which
    carries the same card: NAME.int8.onnx (quantized from it) if the card's int8 section says shipped, else
    NAME.onnx."""
    from heatmark.checkpoint import save_tensors
    from heatmark.quantize import quantize_int8

    save_tensors(dst, tensors, meta)
    write_onnx(dst)
    int8 = dst.with_suffix(".int8.onnx")
    int8.unlink(missing_ok=True)
    if meta["card"].get("int8", {}).get("shipped"):  # quantized again from the final ONNX file: it carries the card
        quantize_int8(dst.with_suffix(".onnx"), int8, crops)
        dst.with_suffix(".onnx").unlink()  # Landmarker runs the int8 file; heatmark export rebuilds fp32 on demand


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a finished training run folder (with final.safetensors)")
    ap.add_argument("--name", required=True, help="shipped model name: default, synthetic, ...")
    ap.add_argument("--label", required=True, help="one line for people: what data it was trained on")
    ap.add_argument("--eval-root", default="../shared/data/300w_afw")
    ap.add_argument("--command", default="", help="the command that trained the run (recorded in the card)")
    ap.add_argument("--out", type=Path, default=ROOT / "heatmark" / "weights")
    ap.add_argument("--fit-offset", metavar="DATASET:ROOT", help="fit the per-point label-bias offset on this "
                    "training set (real labels the model trained on; never the evaluation set)")
    ap.add_argument("--int8-calibrate", metavar="PHOTOS", help="also try static int8: calibrate on the faces of "
                    "these photos (labels never read), ship it if it loses <= 0.1 AFW NME points and is faster")
    ap.add_argument("--docs", type=Path, help="also write the eval plots, the learning curve and the run's "
                    "metrics.jsonl here (e.g. docs/results/default)")
    args = ap.parse_args(argv)

    from heatmark.checkpoint import half_parameters, load_tensors, save_tensors
    from heatmark.cli import main as cli
    from heatmark.engine.bench import bench_speed, machine
    from heatmark.quantize import quantize_int8

    src = args.run / "final.safetensors"
    if not src.is_file():
        sys.exit(f"{src}: not found; the run has not spent its step budget yet (train it to the end first)")
    tensors, meta = load_tensors(src)
    small = half_parameters(tensors)
    dst = args.out / f"{args.name}.safetensors"
    cfg = meta["config"]
    card = {
        "name": args.name, "label": args.label,
        "training_data": training_data(cfg),
        "weights_terms": WEIGHTS_TERMS, "seed": cfg.get("seed"), "config": cfg,
        "validation_data": cfg["data"].get("val"),
        "weights": "final (end of the step budget); parameters stored as float16",
        "steps": meta.get("step"), "commit": commit(), "trained_commit": meta.get("commit"),
        "train_command": args.command,
        "package_command": shlex.join(["python", "tools/package_model.py", *sys.argv[1:]]),
    }
    if cfg["model"].get("init"):
        card["initialised_from"] = init_record(cfg["model"]["init"], meta.get("init"))
    if args.fit_offset:
        from heatmark.checkpoint import load_model
        from heatmark.engine.calibrate import fit_point_offset

        dataset, root = args.fit_offset.split(":", 1)
        model, codec, scheme, _ = load_model(src)
        offset, card["point_offset"] = fit_point_offset(model, codec, scheme, meta, dataset, root)
        meta["codec"] = {**meta["codec"], "point_offset": [[round(float(x), 4), round(float(y), 4)] for x, y in offset]}
    save_tensors(dst, small, {**meta, "card": card})
    write_onnx(dst)
    dst.with_suffix(".int8.onnx").unlink(missing_ok=True)  # a previous release's int8 file must not be measured

    ev = eval_json(cli, args.eval_root, dst, *(["--plots", str(args.docs)] if args.docs else []))
    keep = ("n", "nme", "nme_no_jaw", "fr@0.08", "auc@0.08", "fr@0.10", "auc@0.10", "mean_error_px", "region_nme",
            "mean_signed_error")
    card["accuracy"] = {"dataset": f"300w {args.eval_root}", "boxes": "ground truth", "norm": "outer eye corners",
                        "decoder": ev.get("decoder"), **{k: ev[k] for k in keep if k in ev},
                        "command": f"heatmark eval --dataset 300w --root {args.eval_root} --weights {args.name}"}
    crops = calibration_crops(dst.with_suffix(".onnx"), args.int8_calibrate) if args.int8_calibrate else None
    if crops is not None:  # before the detector-box evaluation, which runs what Landmarker runs (int8 if shipped)
        card["int8"] = int8_check(cli, dst, args.eval_root, args.int8_calibrate, crops, ev["nme"])
        if card["int8"]["shipped"]:
            quantize_int8(dst.with_suffix(".onnx"), dst.with_suffix(".int8.onnx"), crops)
    card["accuracy_detector_boxes"] = detector_accuracy(cli, args.eval_root, dst, args.name)
    rows = bench_speed(dst, (1, 32), 50)
    card["speed"] = {"machine": f"{machine()}, {platform.processor() or platform.machine()}",
                     "ms_per_face": {f"{r['backend']} b{r['batch']}": round(r["ms_per_face"], 3) for r in rows},
                     "params_m": round(rows[0]["params_m"], 3), "file_mb": round(dst.stat().st_size / 1e6, 2),
                     "command": f"heatmark bench speed --weights {args.name}"}
    card["measured"] = time.strftime("%Y-%m-%d %H:%M:%S")
    write_shipped(dst, small, {**meta, "card": card}, crops)
    if args.docs:
        write_docs(args.run, args.docs, card)
    print(json.dumps(card, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
