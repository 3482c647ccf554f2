"""``heatmark data show``: a grid of samples with their landmarks (augmentation preview)."""

from __future__ import annotations

import argparse

from heatmark.cli.common import BUNDLED_SAMPLES, report_skipped


def add_arguments(data: argparse.ArgumentParser) -> None:
    from heatmark.data.augment import PRESETS
    from heatmark.data.readers import DATASETS

    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    show = dsub.add_parser("show", help="draw a grid of samples with their landmarks")
    show.add_argument("--dataset", default="facesynthetics", choices=DATASETS)
    show.add_argument("--root", help="dataset folder or file (default: the bundled FaceSynthetics samples)")
    show.add_argument("--scheme", help="landmark scheme name or .yaml file (default: from the dataset)")
    show.add_argument("--out", default="grid.png", help="output PNG (default grid.png)")
    show.add_argument("--augment", default="none", choices=sorted(PRESETS), help="augmentation preset")
    show.add_argument("--relabel", choices=["silhouette"], help="convert the labels first (FaceSynthetics: jaw "
                      "points onto the visible outline)")
    show.add_argument("--n", type=int, default=16, help="number of samples")
    show.add_argument("--cols", type=int, default=4)
    show.add_argument("--size", type=int, default=256, help="crop size in pixels")
    show.add_argument("--box-scale", type=float, default=1.25, help="crop side / landmark box side")
    show.add_argument("--seed", type=int, default=0)
    show.add_argument("--shuffle", action="store_true", help="random samples instead of the first N")
    show.add_argument("--skip-bad", action="store_true", help="skip and list bad samples instead of stopping")
    data.set_defaults(_parser=data)


def run(args: argparse.Namespace) -> int:
    if args.data_command != "show":
        args._parser.print_help()
        return 0
    return show(args)


def show(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from heatmark.data.cache import CropCache
    from heatmark.data.dataset import LandmarkDataset
    from heatmark.data.image_io import write_image
    from heatmark.data.readers import load_dataset
    from heatmark.data.relabel import relabel_records
    from heatmark.data.visualize import draw_landmarks, make_grid

    root = Path(args.root) if args.root else BUNDLED_SAMPLES / "facesynthetics"
    records = load_dataset(args.dataset, root, scheme=args.scheme, skip_bad=args.skip_bad)
    report_skipped(records.skipped)
    rng = np.random.default_rng(args.seed)
    n = min(args.n, len(records))
    picked = sorted(rng.choice(len(records), n, replace=False)) if args.shuffle else range(n)
    subset = relabel_records(type(records)([records[i] for i in picked]), args.relabel)
    # cache crops 1.5x wider than the final crop, at the same pixel scale: room for augmentation
    cache = CropCache(subset, size=round(args.size * 1.5), context=1.5 * args.box_scale, skip_bad=args.skip_bad)
    report_skipped(cache.skipped)
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
