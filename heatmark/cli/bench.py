"""``heatmark bench``: decoders, models, landmark-stage speed, and the synthetic→real benchmark grid."""

from __future__ import annotations

import argparse

from heatmark.cli.common import WEIGHTS_HELP, detector_name, positive_int, print_table, weights


def add_arguments(bench: argparse.ArgumentParser) -> None:
    bsub = bench.add_subparsers(dest="bench_command", metavar="SUBCOMMAND")
    bd = bsub.add_parser("decode", help="time every heatmap decoder on one batch")
    bd.add_argument("--batch", type=positive_int, default=32)
    bd.add_argument("--points", type=positive_int, default=68)
    bd.add_argument("--size", type=positive_int, default=64, help="heatmap side")
    bd.add_argument("--sigma", type=float, default=2.0)
    bd.add_argument("--repeats", type=positive_int, default=30)
    bm = bsub.add_parser("models", help="parameters and CPU ms/image of every backbone x head")
    bm.add_argument("--size", type=positive_int, default=128, help="input side")
    bm.add_argument("--batch", type=positive_int, nargs="+", default=[1, 32])
    bm.add_argument("--points", type=positive_int, default=68)
    bm.add_argument("--repeats", type=positive_int, default=5)
    bm.add_argument("--head", choices=["regression", "heatmap"], help="only this head")
    bt = bsub.add_parser("transfer", help="run (or resume) a benchmark grid and write its report")
    bt.add_argument("--grid", required=True, help="grid YAML, e.g. configs/bench/transfer.yaml")
    bt.add_argument("--out", help="results folder (default: the grid's 'out')")
    bt.add_argument("--report", help="report path (default: the grid's 'report' or docs/benchmark.md)")
    bt.add_argument("--only", nargs="+", metavar="STUDY", help="run only these studies")
    bt.add_argument("--seeds", nargs="+", type=int, metavar="SEED", help="train only these seeds (e.g. to split "
                    "a study's seeds between two processes)")
    bt.add_argument("--report-only", action="store_true", help="no training: rebuild the report from results")
    bt.add_argument("--remeasure-speed", action="store_true",
                    help="no training: time every finished run again (run it on a quiet machine), then report")
    bs = bsub.add_parser("speed", help="ms/face of the landmark stage, torch and onnxruntime, batch 1 and 32")
    bs.add_argument("--weights", help=WEIGHTS_HELP)
    bs.add_argument("--batch", type=positive_int, nargs="+", default=[1, 32])
    bs.add_argument("--repeats", type=positive_int, default=20)
    bs.add_argument("--against", choices=["dlib"], help="also time dlib's shape predictor (and HOG detector) on the "
                    "same photos and boxes, in this process, and print the ratios (needs the 'compare' extra)")
    bs.add_argument("--images", nargs="+", help="photos for --against (files or folders; default: the bundled photo)")
    bs.add_argument("--limit", type=positive_int, default=60, help="at most this many photos for --against")
    bs.add_argument("--write", help="with --against: also write the tables as markdown to this file (docs/speed.md)")
    bs.add_argument("--candidates", nargs="+", default=[], metavar="RUN_OR_PACKAGE",
                    help="with --against: models to put on the frontier beside the shipped ones, timed with them: "
                    "packaged models (tools/package_model.py --out folders: as they would ship, accuracy from their "
                    "card) or finished training runs (fp32 ONNX export; accuracy on the run's validation set)")
    bdt = bsub.add_parser("detectors", help="face detectors side by side: recall, small faces, ms per 640x480 "
                          "photo, 4 threads sharing one Landmarker")
    bdt.add_argument("--detectors", nargs="+", default=["mtcnn", "opencv", "dlib"], type=detector_name(),
                     help="detectors to compare: mtcnn, mtcnn:MIN_FACE, opencv, dlib (dlib is skipped with a note "
                     "when not installed)")
    bdt.add_argument("--root", action="append", required=True, metavar="DIR",
                     help="a 300W-style folder (.pts beside each photo); repeatable. The first one also gives "
                          "the small-face canvases")
    bdt.add_argument("--small-limit", type=positive_int, default=100, help="faces shrunk onto 640x480 canvases")
    bdt.add_argument("--repeats", type=positive_int, default=3)
    bdt.add_argument("--write", help="also write the table as markdown to this file")
    bench.set_defaults(_parser=bench)


def run(args: argparse.Namespace) -> int:
    handlers = {"decode": decode, "models": models, "transfer": transfer, "speed": speed, "detectors": detectors}
    if args.bench_command not in handlers:
        args._parser.print_help()
        return 0
    return handlers[args.bench_command](args)


def transfer(args: argparse.Namespace) -> int:
    from heatmark.engine.grid import load_grid, remeasure_speed, run_grid
    from heatmark.engine.grid_report import write_report

    grid = load_grid(args.grid)
    if args.remeasure_speed:
        remeasure_speed(grid, args.out, args.only)
    elif not args.report_only:
        run_grid(grid, args.out, args.only, seeds=args.seeds)
    cmd = (f"heatmark bench transfer --grid {args.grid}" + (f" --out {args.out}" if args.out else "")
           + (" --report-only" if grid.get("archived") else ""))
    path = write_report(grid, args.out, args.report, command=cmd)
    print(f"report: {path}")
    return 0


def speed(args: argparse.Namespace) -> int:
    from heatmark.engine.bench import bench_speed, machine

    w = weights(args)
    if args.against:
        return against(args, w, machine())
    rows = bench_speed(w, tuple(args.batch), args.repeats)
    print_table(f"landmark stage (crop in, points out), {w.name} ({machine()})", rows,
                {"ms_per_face": ".2f", "params_m": ".2f", "file_mb": ".1f"})
    return 0


def detectors(args: argparse.Namespace) -> int:
    import importlib.util
    import os
    import sys
    from pathlib import Path

    from heatmark.data.readers import load_dataset
    from heatmark.engine.bench import machine
    from heatmark.engine.detector_bench import bench_detectors

    chosen = [d for d in args.detectors if d != "dlib" or importlib.util.find_spec("dlib") is not None]
    if len(chosen) < len(args.detectors):
        print("note: dlib is not installed (pip install -e \".[compare]\"); its row is left out", file=sys.stderr)
    load = os.getloadavg()[0]
    sets = {Path(r).name: load_dataset("300w", r) for r in args.root}
    rows = bench_detectors(chosen, sets, next(iter(sets.values())), args.small_limit, args.repeats,
                           log=lambda *a: None)
    fmt = {k: ".1f" for k in rows[0] if k.endswith("%") or k.startswith("ms")}
    print_table(f"face detectors ({machine()}; load average before: {load:.2f})", rows, fmt)
    if args.write:
        cmd = ("heatmark bench detectors --detectors " + " ".join(args.detectors) + "".join(
            f" --root {r}" for r in args.root) + f" --small-limit {args.small_limit} --repeats {args.repeats}"
            f" --write {args.write}")
        head = list(rows[0])
        lines = generated_page("Face detectors", cmd, machine(), load, [
            "A face is found when a detection overlaps its landmarks' bounding box with IoU >= 0.3. Small faces: "
            "faces of the first set scaled to a 73-pixel landmark box on 640x480 canvases, which are also the "
            "photos timed."])
        lines += ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
        lines += ["| " + " | ".join(format(r[k], fmt[k]) if k in fmt else str(r[k]) for k in head) + " |"
                  for r in rows]
        write_page(args.write, lines)
    return 0


def generated_page(title: str, cmd: str, machine: str, load: float, notes: list[str]) -> list[str]:
    """The head of a generated markdown page: title, the command that wrote it, machine, date, load, notes."""
    import time

    busy = (" (above 0.5: something was running or had just stopped, since the average decays over minutes; "
            "check that nothing runs beside it)." if load > 0.5 else ".")
    return [f"# {title}", "", "Generated by the command below; do not edit by hand.", "", "```bash", cmd, "```", "",
            f"- Machine: {machine}; {time.strftime('%Y-%m-%d %H:%M')}; 1-minute load average just before the run: "
            f"{load:.2f}{busy}", *[f"- {n}" for n in notes], ""]


def write_page(path: str, lines: list[str]) -> None:
    from heatmark.atomic import atomic_write

    atomic_write(path, "\n".join(lines) + "\n")
    print(f"wrote {path}")


def decode(args: argparse.Namespace) -> int:
    from heatmark.engine.bench import bench_decode, machine

    rows = bench_decode(args.batch, args.points, args.size, args.sigma, args.repeats)
    print_table(f"decode {args.batch}x{args.points}x{args.size}x{args.size} heatmaps, sigma {args.sigma} "
                f"({machine()})", rows, {"ms": ".2f", "error_heatmap_px": ".4f"})
    return 0


def models(args: argparse.Namespace) -> int:
    from heatmark.engine.bench import DEFAULT_MODELS, bench_models, machine

    chosen = [m for m in DEFAULT_MODELS if not args.head or m[0] == args.head]
    rows = bench_models(args.size, tuple(args.batch), args.points, args.repeats, chosen)
    fmt = {"params_m": ".2f", **{f"ms_per_image_b{b}": ".1f" for b in args.batch}}
    print_table(f"models at {args.size}x{args.size}, forward on CPU ({machine()})", rows, fmt)
    return 0


def against(args: argparse.Namespace, w, machine: str) -> int:
    import os

    from heatmark.cli.common import BUNDLED_PHOTO
    from heatmark.cli.predict import iter_images
    from heatmark.engine.speed import against_dlib

    images = list(iter_images(args.images or [str(BUNDLED_PHOTO)], recursive=False))[: args.limit]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")  # before we load the CPU ourselves
    res = against_dlib(w, images, args.repeats, candidates=tuple(args.candidates))
    res["load_before"] = load
    print_table(f"landmark stage, ms per face, same boxes ({w.name}; {machine})", res["landmarks"],
                {"ms_per_face": ".2f", "vs_dlib": ".2f"})
    print_table(f"end to end, ms per photo with detection ({res['photos']} photos, {res['faces']} faces)",
                res["end_to_end"], {"ms_per_photo": ".1f", "vs_dlib": ".2f", "faces_found": "d"})
    if res["frontier"]:
        from heatmark.engine.plots import frontier_title

        print_table(f"{frontier_title(res['frontier'])} (AFW NME: cards; training-run candidates: their "
                    "validation set)",
                    res["frontier"],
                    {"nme": ".2f", "nme_no_jaw": ".2f", "params_m": ".2f", "file_mb": ".1f", "ms_per_face": ".2f",
                     "vs_dlib": ".2f"})
    if args.write:
        write_speed_markdown(args, w, machine, res)
    return 0


def speed_command(args: argparse.Namespace) -> str:
    """The ``heatmark bench speed`` command line that reproduces ``args`` (recorded in the written page)."""
    parts = ["heatmark bench speed"] + ([f"--weights {args.weights}"] if args.weights else [])
    parts += [f"--against {args.against}"] + (["--images " + " ".join(args.images)] if args.images else [])
    parts += [f"--limit {args.limit}", f"--repeats {args.repeats}"] + ([f"--write {args.write}"] if args.write else [])
    parts += ["--candidates " + " ".join(args.candidates)] if getattr(args, "candidates", None) else []
    return " ".join(parts)


def write_speed_markdown(args: argparse.Namespace, w, machine: str, res: dict) -> None:
    """The tables of ``--against`` as a markdown page that names its command, machine and date; with the shipped
    models' frontier, also its plot beside the page (``NAME_frontier.png``)."""
    from pathlib import Path

    lines = generated_page("Speed against dlib", speed_command(args), machine, res.get("load_before", float("nan")), [
        f"Weights: `{w.name}`; {res['photos']} photos, {res['faces']} faces (dlib's HOG boxes, the same boxes for "
        "both); medians of the timed passes after untimed warm-up."])
    lines += ["## Landmark stage (ms per face)", "", "| method | batch | ms/face | × dlib |",
              "| --- | ---: | ---: | ---: |"]
    lines += [f"| {r['method']} | {r['batch']} | {r['ms_per_face']:.2f} | {r['vs_dlib']:.2f} |"
              for r in res["landmarks"]]
    lines += ["", "## End to end with detection (ms per photo)", "", "| method | ms/photo | × dlib | faces found |",
              "| --- | ---: | ---: | ---: |"]
    lines += [f"| {r['method']} | {r['ms_per_photo']:.1f} | {r['vs_dlib']:.2f} | {r.get('faces_found', '')} |"
              for r in res["end_to_end"]]
    if res.get("frontier"):
        from heatmark.engine.plots import frontier_plot, frontier_title

        png = Path(args.write).with_name(Path(args.write).stem + "_frontier.png")
        frontier_plot(res["frontier"], res["landmarks"][0]["ms_per_face"], png)
        lines += ["", f"## {frontier_title(res['frontier'])}", "",
                  "Each shipped model as `Landmarker(name)` runs it (batch 1, same faces and boxes as above; the "
                  "models timed in three interleaved rounds, so `default`'s time here is a second measurement "
                  "beside the table's); accuracy "
                  "from its card (AFW, ground-truth boxes: `heatmark eval --dataset 300w --root "
                  "../shared/data/300w_afw --weights NAME`). Rows marked *candidate* are models that were not "
                  "shipped (`--candidates`), timed in the same rounds: a packaged model as it would ship, with its "
                  "card's accuracy; a training run as an fp32 ONNX export of its final weights, evaluated here on the "
                  "run's validation set (AFW; no flip, no label-bias offset).", "",
                  "| model | file | params (M) | MB | AFW NME % | w/o jaw % | ms/face | × dlib |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {r['model']} | `{r['onnx']}` | {r['params_m']:.2f} | {r['file_mb']:.1f} | {r['nme']:.2f} | "
                  f"{r['nme_no_jaw']:.2f} | {r['ms_per_face']:.2f} | {r['vs_dlib']:.2f} |" for r in res["frontier"]]
        lines += ["", f"![frontier]({png.name})"]
    write_page(args.write, lines)
