"""The ``heatmark`` command line. Input errors print one line and exit with code 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from heatmark.errors import HeatmarkError

BUNDLED_SAMPLES = Path(__file__).parent / "assets" / "samples"


def _report_skipped(errors) -> None:
    """List the bad samples a --skip-bad run left out, one line each on stderr."""
    for e in errors:
        print(f"skipped: {e}", file=sys.stderr)


def _cmd_data_show(args: argparse.Namespace) -> int:
    import numpy as np

    from heatmark.data.cache import CropCache
    from heatmark.data.dataset import LandmarkDataset
    from heatmark.data.image_io import write_image
    from heatmark.data.readers import load_dataset
    from heatmark.data.visualize import draw_landmarks, make_grid

    root = Path(args.root) if args.root else BUNDLED_SAMPLES / "facesynthetics"
    records = load_dataset(args.dataset, root, scheme=args.scheme, skip_bad=args.skip_bad)
    _report_skipped(records.skipped)
    rng = np.random.default_rng(args.seed)
    n = min(args.n, len(records))
    picked = sorted(rng.choice(len(records), n, replace=False)) if args.shuffle else range(n)
    subset = [records[i] for i in picked]
    # cache crops 1.5x wider than the final crop, at the same pixel scale: room for augmentation
    cache = CropCache(subset, size=round(args.size * 1.5), context=1.5 * args.box_scale, skip_bad=args.skip_bad)
    _report_skipped(cache.skipped)
    subset, n = cache.records, len(cache.records)  # without any images the cache skipped
    ds = LandmarkDataset(cache, input_size=args.size, augment=args.augment, box_scale=args.box_scale,
                         seed=args.seed)
    tiles, caps = [], []
    for i in range(n):
        d = ds.load(i)
        tiles.append(draw_landmarks(d["image"], d["landmarks"], ds.scheme, visible=d["visible"]))
        caps.append(subset[i].name + (" (flipped)" if d["flipped"] else ""))
    write_image(args.out, make_grid(tiles, ncols=args.cols, captions=caps))
    print(f"wrote {args.out}: {n} samples of {len(records)} from {root} "
          f"({ds.scheme.name}, augment={args.augment})")
    return 0


def _train_config(args: argparse.Namespace) -> dict:
    from heatmark.config import DEFAULTS, merge_config, apply_overrides, load_config, parse_source
    from heatmark.engine.recipes import HEAD_RECIPES

    if args.config:
        cfg = load_config(args.config)
        if args.head and cfg["model"]["head"] != args.head:
            cfg = merge_config(cfg, HEAD_RECIPES[args.head])
    else:
        cfg = merge_config(DEFAULTS, HEAD_RECIPES[args.head or "heatmap"])
    if args.train:
        cfg["data"]["train"] = [parse_source(s) for s in args.train]
    if args.val:
        cfg["data"]["val"] = {k: v for k, v in parse_source(args.val).items() if k != "ratio"}
    if args.no_val:
        cfg["data"]["val"] = None
    if args.epochs is not None:
        cfg["optim"]["epochs"] = args.epochs
    if args.max_steps is not None:
        cfg["optim"]["max_steps"] = args.max_steps
    if args.seed is not None:
        cfg["seed"] = args.seed
    if args.skip_bad:
        cfg["data"]["skip_bad"] = True
    return apply_overrides(cfg, args.set or [])


def _cmd_train(args: argparse.Namespace) -> int:
    from heatmark.engine.trainer import Trainer

    cfg = _train_config(args)
    trainer = Trainer(cfg, args.out, resume=args.resume, device=args.device,
                      progress=not args.quiet and sys.stdout.isatty())
    last = trainer.fit()
    if trainer.main:
        print(f"done: {last.get('step')} steps, last val NME {last.get('val_nme', float('nan')):.3f}% "
              f"-> {Path(args.out) / 'final.safetensors'} (best val {trainer.best:.3f}% -> best.safetensors)")
    return 0


def _weights(args: argparse.Namespace) -> Path:
    """--weights: a file, a shipped model's name (default, mixing), or absent for the default."""
    from heatmark.api import resolve_weights

    return resolve_weights(args.weights)


WEIGHTS_HELP = "a .safetensors file, or a shipped model: default (synthetic-only; used when absent) or mixing"
BUNDLED_PHOTO = Path(__file__).parent / "assets" / "samples" / "photo.jpg"


def _iter_images(inputs: list[str], recursive: bool):
    from heatmark.data.image_io import IMAGE_EXTS
    from heatmark.errors import DataError

    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in (p.rglob("*") if recursive else p.glob("*")) if f.suffix.lower() in IMAGE_EXTS)
            if not found:
                raise DataError(p, "no images in this folder", "give image files or a folder of .jpg/.png")
            yield from found
        elif p.exists():
            yield p
        else:
            raise DataError(p, "file or folder not found")


def _landmarker(args: argparse.Namespace):
    from heatmark.api import Landmarker

    det = None if args.detector in ("full", "none") else args.detector
    return Landmarker(args.weights, detector=det, backend=args.backend, flip=args.flip)


def _cmd_predict(args: argparse.Namespace) -> int:
    import json
    import time

    from heatmark.data.image_io import read_image, write_image
    from heatmark.data.visualize import draw_landmarks
    from heatmark.errors import DataError

    lm = _landmarker(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    inputs = args.inputs or [str(BUNDLED_PHOTO)]
    n_img = n_faces = n_skipped = n_resumed = 0
    bad: list[str] = []
    t0 = time.perf_counter()
    used: set[str] = set()
    for path in _iter_images(inputs, args.recursive):
        stem = path.stem
        if stem in used:  # same name in another folder: prefix the folder names (deterministic order)
            stem = "__".join([*path.parent.parts[-2:], path.stem]).replace(":", "")
        used.add(stem)
        if (out / f"{stem}.json").is_file() and args.resume:
            n_resumed += 1
            continue
        try:
            rgb = read_image(path)
        except DataError as e:
            if not args.skip_bad:
                raise
            bad.append(str(e))
            n_skipped += 1
            continue
        h, w = rgb.shape[:2]
        boxes = [[0, 0, w, h]] if args.detector == "full" else None
        faces = lm.predict(rgb, boxes=boxes)
        shown = rgb
        for f in faces:
            shown = draw_landmarks(shown, f.landmarks, lm.scheme)
        if not args.no_images:
            write_image(out / f"{stem}.png", shown)
        doc = {"image": str(path), "width": w, "height": h, "weights": str(lm.weights), "faces": [f.to_dict() for f in faces]}
        tmp = out / f".{stem}.json.tmp"
        tmp.write_text(json.dumps(doc))
        tmp.replace(out / f"{stem}.json")  # the JSON appears last and whole: --resume trusts it
        n_img += 1
        n_faces += len(faces)
    _report_skipped(bad)
    dt = time.perf_counter() - t0
    print(f"{n_img} images, {n_faces} faces -> {out} ({dt:.1f} s"
          + (f", {n_resumed} already done" if n_resumed else "") + (f", {n_skipped} skipped" if n_skipped else "") + ")")
    return 0


def _cmd_video(args: argparse.Namespace) -> int:
    from heatmark.errors import HeatmarkError
    from heatmark.video import process_video

    if (args.input is None) == (args.camera is None):
        raise HeatmarkError("give a video file or --camera N (one of them)")
    lm = _landmarker(args)
    source = args.camera if args.camera is not None else args.input
    stats = process_video(lm, source, args.out, smooth=not args.no_smooth, min_cutoff=args.min_cutoff,
                          beta=args.beta, min_score=args.min_score, max_frames=args.max_frames)
    lm_ms = stats.landmark_seconds / max(stats.frames, 1) * 1000
    print(f"{stats.frames} frames in {stats.seconds:.2f} s: {stats.fps:.1f} FPS end to end "
          f"(detection ran on {stats.detections} frames; detection+landmarks {lm_ms:.1f} ms/frame) -> {args.out}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from heatmark.checkpoint import load_model
    from heatmark.export import export_onnx, onnx_session

    weights = _weights(args)
    model, _, _, meta = load_model(weights)
    size = int(meta["input_size"])
    path = export_onnx(model, size, args.out)
    sess = onnx_session(model, size, path)
    x = torch.rand(8, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ref = model(x).numpy()
    diff = float(np.abs(sess.run(None, {"image": x.numpy()})[0] - ref).max())
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); max abs difference to torch on a batch of 8: {diff:.2e}")
    return 0


def _cmd_bench_transfer(args: argparse.Namespace) -> int:
    from heatmark.engine.grid import load_grid, run_grid, write_report

    grid = load_grid(args.grid)
    if args.remeasure_speed:
        from heatmark.engine.grid import remeasure_speed

        remeasure_speed(grid, args.out, args.only)
    elif not args.report_only:
        run_grid(grid, args.out, args.only)
    cmd = (f"heatmark bench transfer --grid {args.grid}" + (f" --out {args.out}" if args.out else "")
           + (" --report-only" if grid.get("archived") else ""))
    path = write_report(grid, args.out, args.report, command=cmd)
    print(f"report: {path}")
    return 0


def _cmd_bench_speed(args: argparse.Namespace) -> int:
    from heatmark.engine.bench import bench_speed, machine

    weights = _weights(args)
    rows = bench_speed(weights, tuple(args.batch), args.repeats)
    _print_table(f"landmark stage (crop in, points out), {weights.name} ({machine()})", rows,
                 {"ms_per_face": ".2f", "params_m": ".2f", "file_mb": ".1f"})
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from heatmark.checkpoint import load_model
    from heatmark.data.cache import CropCache
    from heatmark.data.dataset import LandmarkDataset
    from heatmark.data.image_io import read_image
    from heatmark.data.readers import load_dataset
    from heatmark.engine.evaluate import common_scheme, evaluate, predict_dataset, subsets_300w
    from heatmark.engine.metrics import nme
    from heatmark.engine.plots import ced_plot, prediction_grid
    from heatmark.errors import HeatmarkError

    weights = _weights(args)
    model, codec, scheme, meta = load_model(weights)
    records = load_dataset(args.dataset, args.root, scheme=args.scheme, skip_bad=args.skip_bad)
    _report_skipped(records.skipped)
    size, box = int(meta["input_size"]), float(meta["box_scale"])
    detection = {}
    if args.boxes == "detector":
        from heatmark.engine.evaluate import predict_with_detector

        pred, records, detection = predict_with_detector(weights, records, args.detector, args.decoder, args.flip)
        if not records:
            raise HeatmarkError(f"the {args.detector} detector found none of the {detection['faces']} faces")
    else:
        cache = CropCache(records, size=size, context=box, cache_dir=None, skip_bad=args.skip_bad)
        _report_skipped(cache.skipped)
        records = cache.records
        ds = LandmarkDataset(cache, input_size=size, target_scheme=scheme, box_scale=box)
        pred, _ = predict_dataset(model, codec, ds, args.batch_size, "cpu", decoder=args.decoder, flip=args.flip)
    subsets = subsets_300w(records, args.root) if args.dataset == "300w" else {}
    res = evaluate(pred, scheme, records, args.norm, subsets)
    res.update(detection)
    if detection:
        print(f"{args.detector} detector found {detection['found']} of {detection['faces']} faces "
              f"(recall {detection['detector_recall'] * 100:.1f}%); metrics are over the found faces")
    res.update({"weights": str(weights), "dataset": args.dataset, "root": str(args.root), "boxes": args.boxes,
                "flip": args.flip,
                "decoder": args.decoder or getattr(codec, "decoder", None)})
    cols = ("n", "nme", *(("nme_no_jaw",) if "nme_no_jaw" in res else ()), "fr@0.08", "auc@0.08", "fr@0.10",
            "auc@0.10", "mean_error_px")
    rows = [{"set": "all", **{k: res[k] for k in cols}}]
    for name in ("common", "challenging", "full"):
        if name in res:
            rows.append({"set": name, **{k: res[name][k] for k in rows[0] if k != "set"}})
    _print_table(f"{args.dataset} {args.root} ({res['scheme']}, NME/FR/AUC in %, norm {args.norm})", rows,
                 {k: ".3f" for k in rows[0] if k not in ("set", "n")})
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1))
    if args.plots:
        plots = Path(args.plots)
        p, g, vis, sch = common_scheme(pred, scheme, records)
        per = nme(p, g, sch, args.norm, vis)
        ced_plot({Path(weights).parent.name or "model": per}, 0.10, plots / "ced.png",
                 f"{args.dataset}: CED of NME ({len(per)} faces)")
        order = np.argsort(per)
        for name, idx in (("best", order[:6]), ("worst", order[::-1][:6])):
            prediction_grid([records[i].load_image() for i in idx], [p[i] for i in idx], [g[i] for i in idx], sch,
                            [f"{records[i].name} {per[i] * 100:.1f}%" for i in idx], plots / f"{name}.png")
        print(f"plots in {plots}: ced.png, best.png, worst.png")
    return 0


def _print_table(title: str, rows: list[dict], formats: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in rows[0]:
        table.add_column(col, justify="right" if col in formats else "left")
    for r in rows:
        table.add_row(*[format(v, formats[k]) if k in formats else str(v) for k, v in r.items()])
    Console(width=max(120, Console().width)).print(table)


def _cmd_bench_decode(args: argparse.Namespace) -> int:
    from heatmark.engine.bench import bench_decode, machine

    rows = bench_decode(args.batch, args.points, args.size, args.sigma, args.repeats)
    _print_table(f"decode {args.batch}x{args.points}x{args.size}x{args.size} heatmaps, sigma {args.sigma} "
                 f"({machine()})", rows, {"ms": ".2f", "error_heatmap_px": ".4f"})
    return 0


def _cmd_bench_models(args: argparse.Namespace) -> int:
    from heatmark.engine.bench import DEFAULT_MODELS, bench_models, machine

    models = [m for m in DEFAULT_MODELS if not args.head or m[0] == args.head]
    rows = bench_models(args.size, tuple(args.batch), args.points, args.repeats, models)
    fmt = {"params_m": ".2f", **{f"ms_per_image_b{b}": ".1f" for b in args.batch}}
    _print_table(f"models at {args.size}x{args.size}, forward on CPU ({machine()})", rows, fmt)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from heatmark import __version__
    from heatmark.data.augment import PRESETS
    from heatmark.data.readers import DATASETS

    p = argparse.ArgumentParser(prog="heatmark", description="Facial landmarks trained on synthetic faces.")
    p.add_argument("--version", action="version", version=f"heatmark {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    data = sub.add_parser("data", help="inspect datasets")
    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    show = dsub.add_parser("show", help="draw a grid of samples with their landmarks")
    show.add_argument("--dataset", default="facesynthetics", choices=DATASETS)
    show.add_argument("--root", help="dataset folder or file (default: the bundled FaceSynthetics samples)")
    show.add_argument("--scheme", help="landmark scheme name or .yaml file (default: from the dataset)")
    show.add_argument("--out", default="grid.png", help="output PNG (default grid.png)")
    show.add_argument("--augment", default="none", choices=sorted(PRESETS), help="augmentation preset")
    show.add_argument("--n", type=int, default=16, help="number of samples")
    show.add_argument("--cols", type=int, default=4)
    show.add_argument("--size", type=int, default=256, help="crop size in pixels")
    show.add_argument("--box-scale", type=float, default=1.25, help="crop side / landmark box side")
    show.add_argument("--seed", type=int, default=0)
    show.add_argument("--shuffle", action="store_true", help="random samples instead of the first N")
    show.add_argument("--skip-bad", action="store_true", help="skip and list bad samples instead of stopping")
    show.set_defaults(func=_cmd_data_show)
    data.set_defaults(func=lambda a: data.print_help())

    tr = sub.add_parser("train", help="train a model (regression or heatmap head)")
    tr.add_argument("--head", choices=["heatmap", "regression"], help="head recipe (default heatmap)")
    tr.add_argument("--config", help="YAML config (see configs/)")
    tr.add_argument("--train", action="append", metavar="DATASET:ROOT[@RATIO]",
                    help="training source, repeatable; ratios mix sources (e.g. facesynthetics:DIR@0.6)")
    tr.add_argument("--val", metavar="DATASET:ROOT", help="validation set (real faces)")
    tr.add_argument("--no-val", action="store_true", help="train without validation")
    tr.add_argument("--out", default="runs/latest", help="run folder (checkpoints, metrics.jsonl)")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--max-steps", type=int, help="stop after this many optimiser steps (a fixed budget)")
    tr.add_argument("--seed", type=int)
    tr.add_argument("--resume", action="store_true", help="continue from RUN/last.safetensors")
    tr.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key, e.g. loss.name=awing")
    tr.add_argument("--device", default="auto",
                    help="auto (a GPU with mixed precision when torch sees one, else the CPU), cpu, cuda or cuda:N")
    tr.add_argument("--quiet", action="store_true", help="no progress bar (one line per epoch)")
    tr.add_argument("--skip-bad", action="store_true", help="list and skip bad samples instead of stopping")
    tr.set_defaults(func=_cmd_train)

    ev = sub.add_parser("eval", help="evaluate weights on an annotated dataset")
    ev.add_argument("--dataset", required=True, choices=DATASETS)
    ev.add_argument("--root", required=True, help="dataset folder or file")
    ev.add_argument("--weights", help=WEIGHTS_HELP)
    ev.add_argument("--boxes", choices=["gt", "detector"], default="gt", help="face boxes from ground truth or detector")
    ev.add_argument("--detector", default="opencv", choices=["opencv", "dlib"], help="with --boxes detector")
    ev.add_argument("--scheme", help="landmark scheme of the dataset (default: from the dataset)")
    ev.add_argument("--flip", action="store_true", help="horizontal-flip test-time augmentation")
    ev.add_argument("--decoder", help="heatmap decoder to use instead of the model's (argmax, quarter, dark, ...)")
    ev.add_argument("--norm", default="default", help="NME normalisation: default (scheme's), inter_pupil, ...")
    ev.add_argument("--json", help="write the metrics as JSON here")
    ev.add_argument("--plots", help="write ced.png, best.png and worst.png into this folder")
    ev.add_argument("--batch-size", type=int, default=32)
    ev.add_argument("--skip-bad", action="store_true")
    ev.set_defaults(func=_cmd_eval)

    def add_model_args(sp):
        sp.add_argument("--weights", help=WEIGHTS_HELP)
        sp.add_argument("--detector", default="opencv", choices=["opencv", "dlib", "full"],
                        help="face detector; 'full': each image is one face crop")
        sp.add_argument("--backend", default="torch", choices=["torch", "onnx"])
        sp.add_argument("--flip", action="store_true", help="horizontal-flip test-time augmentation")

    pr = sub.add_parser("predict", help="landmarks on images: annotated PNGs + one JSON per image")
    pr.add_argument("inputs", nargs="*", help="images or folders (default: a bundled sample photo)")
    pr.add_argument("--out", default="predictions", help="output folder")
    add_model_args(pr)
    pr.add_argument("--recursive", action="store_true", help="search folders recursively")
    pr.add_argument("--resume", action="store_true", help="skip images whose JSON is already in --out")
    pr.add_argument("--skip-bad", action="store_true", help="list and skip unreadable images instead of stopping")
    pr.add_argument("--no-images", action="store_true", help="write only the JSON files")
    pr.set_defaults(func=_cmd_predict)

    vi = sub.add_parser("video", help="landmarks on a video or camera, with tracking and smoothing")
    vi.add_argument("input", nargs="?", help="video file")
    vi.add_argument("--camera", type=int, help="camera index instead of a file")
    vi.add_argument("--out", default="landmarks.mp4", help="annotated output video (.mp4)")
    add_model_args(vi)
    vi.add_argument("--no-smooth", action="store_true", help="no One Euro smoothing")
    vi.add_argument("--min-cutoff", type=float, default=1.0, help="One Euro min cut-off (Hz): lower = smoother")
    vi.add_argument("--beta", type=float, default=0.05, help="One Euro speed coefficient: higher = less lag")
    vi.add_argument("--min-score", type=float, default=0.15, help="mean point score under which tracking is lost")
    vi.add_argument("--max-frames", type=int)
    vi.set_defaults(func=_cmd_video)

    ex = sub.add_parser("export", help="export weights to ONNX (with a parity check)")
    ex.add_argument("--format", default="onnx", choices=["onnx"])
    ex.add_argument("--weights", help=WEIGHTS_HELP)
    ex.add_argument("--out", default="heatmark.onnx")
    ex.set_defaults(func=_cmd_export)

    bench = sub.add_parser("bench", help="micro-benchmarks (decoding, model size and speed)")
    bsub = bench.add_subparsers(dest="bench_command", metavar="SUBCOMMAND")
    bd = bsub.add_parser("decode", help="time every heatmap decoder on one batch")
    bd.add_argument("--batch", type=int, default=32)
    bd.add_argument("--points", type=int, default=68)
    bd.add_argument("--size", type=int, default=64, help="heatmap side")
    bd.add_argument("--sigma", type=float, default=2.0)
    bd.add_argument("--repeats", type=int, default=30)
    bd.set_defaults(func=_cmd_bench_decode)
    bm = bsub.add_parser("models", help="parameters and CPU ms/image of every backbone x head")
    bm.add_argument("--size", type=int, default=128, help="input side")
    bm.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    bm.add_argument("--points", type=int, default=68)
    bm.add_argument("--repeats", type=int, default=5)
    bm.add_argument("--head", choices=["regression", "heatmap"], help="only this head")
    bm.set_defaults(func=_cmd_bench_models)
    bt = bsub.add_parser("transfer", help="run (or resume) a benchmark grid and write its report")
    bt.add_argument("--grid", required=True, help="grid YAML, e.g. configs/bench/transfer.yaml")
    bt.add_argument("--out", help="results folder (default: the grid's 'out')")
    bt.add_argument("--report", help="report path (default: the grid's 'report' or docs/benchmark.md)")
    bt.add_argument("--only", nargs="+", metavar="STUDY", help="run only these studies")
    bt.add_argument("--report-only", action="store_true", help="no training: rebuild the report from results")
    bt.add_argument("--remeasure-speed", action="store_true",
                    help="no training: time every finished run again (run it on a quiet machine), then report")
    bt.set_defaults(func=_cmd_bench_transfer)
    bs = bsub.add_parser("speed", help="ms/face of the landmark stage, torch and onnxruntime, batch 1 and 32")
    bs.add_argument("--weights", help=WEIGHTS_HELP)
    bs.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    bs.add_argument("--repeats", type=int, default=20)
    bs.set_defaults(func=_cmd_bench_speed)
    bench.set_defaults(func=lambda a: bench.print_help())
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except HeatmarkError as e:
        print(f"heatmark: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("heatmark: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
