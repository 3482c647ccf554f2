"""The ``heatmark`` command line. Input errors print one line and exit with code 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from heatmark.errors import HeatmarkError

BUNDLED_SAMPLES = Path(__file__).parent / "assets" / "samples"


def _cmd_data_show(args: argparse.Namespace) -> int:
    import numpy as np

    from heatmark.data.cache import CropCache
    from heatmark.data.dataset import LandmarkDataset
    from heatmark.data.image_io import write_image
    from heatmark.data.readers import load_dataset
    from heatmark.data.visualize import draw_landmarks, make_grid

    root = Path(args.root) if args.root else BUNDLED_SAMPLES / "facesynthetics"
    records = load_dataset(args.dataset, root, scheme=args.scheme, skip_bad=args.skip_bad)
    for e in records.skipped:
        print(f"skipped: {e}", file=sys.stderr)
    rng = np.random.default_rng(args.seed)
    n = min(args.n, len(records))
    picked = sorted(rng.choice(len(records), n, replace=False)) if args.shuffle else range(n)
    subset = [records[i] for i in picked]
    # cache crops 1.5x wider than the final crop, at the same pixel scale: room for augmentation
    cache = CropCache(subset, size=round(args.size * 1.5), context=1.5 * args.box_scale)
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
