"""``heatmark viz``: heatmaps of one face, first-layer filters, training curves, CED of several results."""

from __future__ import annotations

import argparse
from pathlib import Path

from heatmark.cli.common import WEIGHTS_HELP, weights


def add_arguments(vz: argparse.ArgumentParser) -> None:
    sub = vz.add_subparsers(dest="viz_command", metavar="SUBCOMMAND")
    hm = sub.add_parser("heatmaps", help="per-point heatmaps of one face over its crop")
    hm.add_argument("image")
    hm.add_argument("--weights", help=WEIGHTS_HELP)
    hm.add_argument("--box", type=float, nargs=4, metavar=("X1", "Y1", "X2", "Y2"), help="face box (default: detect)")
    fl = sub.add_parser("filters", help="first-layer convolution filters")
    fl.add_argument("--weights", help=WEIGHTS_HELP)
    cu = sub.add_parser("curves", help="training loss and validation NME from a run folder")
    cu.add_argument("run", help="run folder (with metrics.jsonl)")
    ce = sub.add_parser("ced", help="CED curves of several result JSONs on one plot")
    ce.add_argument("results", nargs="+", help="heatmark eval --json files or grid result.json files")
    for sp in (hm, fl, cu, ce):
        sp.add_argument("--out", default="viz", help="output folder")
    vz.set_defaults(_parser=vz)


def run(args: argparse.Namespace) -> int:
    from heatmark.engine import viz

    if args.viz_command is None:
        args._parser.print_help()
        return 0
    out = Path(args.out)
    if args.viz_command == "heatmaps":
        path = viz.heatmaps(weights(args), args.image, out, args.box)
    elif args.viz_command == "filters":
        path = viz.first_layer_filters(weights(args), out)
    elif args.viz_command == "curves":
        path = viz.training_curves(args.run, out)
    else:
        path = viz.ced_of_results(args.results, out)
    print(f"wrote {path}")
    return 0
