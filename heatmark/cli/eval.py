"""``heatmark eval``: weights on an annotated dataset → NME / FR / AUC (overall, per region, 300W subsets)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from heatmark.cli.common import (
    WEIGHTS_HELP,
    add_refine_argument,
    detector_name,
    positive_int,
    print_table,
    report_skipped,
    weights,
)


def add_arguments(ev: argparse.ArgumentParser) -> None:
    from heatmark.data.readers import DATASETS

    ev.add_argument("--dataset", required=True, choices=DATASETS)
    ev.add_argument("--root", required=True, help="dataset folder or file")
    ev.add_argument("--weights", help=WEIGHTS_HELP)
    ev.add_argument("--boxes", choices=["gt", "detector"], default="gt",
                    help="face boxes from ground truth or detector")
    ev.add_argument("--detector", default="mtcnn", type=detector_name(), metavar="{mtcnn,opencv,dlib}",
                    help="with --boxes detector (mtcnn:MIN_FACE: MTCNN looking for faces of at least MIN_FACE px)")
    ev.add_argument("--no-upright", action="store_true", help="with --boxes detector: axis-aligned crops (no roll "
                    "correction from the detector's eye points)")
    ev.add_argument("--scheme", help="landmark scheme of the dataset (default: from the dataset)")
    ev.add_argument("--flip", action="store_true", help="horizontal-flip test-time augmentation")
    add_refine_argument(ev)
    ev.add_argument("--decoder", help="heatmap decoder to use instead of the model's (argmax, quarter, dark, ...)")
    ev.add_argument("--adapter", help="a label adapter (.npz from heatmark adapt) applied to the predictions")
    ev.add_argument("--norm", default="default", help="NME normalisation: default (scheme's), inter_pupil, ...")
    ev.add_argument("--device", default="auto", help="auto (a GPU when torch sees one, else the CPU), cpu, cuda:N")
    ev.add_argument("--json", help="write the metrics as JSON here")
    ev.add_argument("--plots", help="write ced.png, best.png and worst.png into this folder")
    ev.add_argument("--batch-size", type=positive_int, default=32)
    ev.add_argument("--skip-bad", action="store_true")


def run(args: argparse.Namespace) -> int:
    from heatmark.engine.evaluate import evaluate_weights

    w = weights(args)
    result = evaluate_weights(w, args.dataset, args.root, scheme=args.scheme, boxes=args.boxes,
                              detector=args.detector, decoder=args.decoder, flip=args.flip, norm=args.norm,
                              batch_size=args.batch_size, device=args.device, skip_bad=args.skip_bad,
                              adapter=args.adapter, upright=False if args.no_upright else None,
                              refine=args.refine)
    res = result.metrics
    report_skipped(res.get("skipped", []))
    for e in res.get("excluded", []):
        print(f"excluded: {e}", file=sys.stderr)
    if args.boxes == "detector":
        print(f"{args.detector} detector found {res['found']} of {res['faces']} faces "
              f"(recall {res['detector_recall'] * 100:.1f}%; median {res['detector_ms_per_image']:.1f} ms per "
              f"image); metrics are over the found faces")
    cols = ("n", "nme", *(("nme_no_jaw",) if "nme_no_jaw" in res else ()), "fr@0.08", "auc@0.08", "fr@0.10",
            "auc@0.10", "mean_error_px")
    rows = [{"set": "all", **{k: res[k] for k in cols}}]
    for name in ("common", "challenging", "full"):
        if name in res:
            rows.append({"set": name, **{k: res[name][k] for k in rows[0] if k != "set"}})
    excluded = f", {len(res['excluded'])} excluded" if res.get("excluded") else ""
    print_table(f"{args.dataset} {args.root} ({res['scheme']}, NME/FR/AUC in %, norm {args.norm}{excluded})", rows,
                {k: ".3f" for k in rows[0] if k not in ("set", "n")})
    if "mean_signed_error" in res:
        dx, dy = res["mean_signed_error"]
        print(f"mean signed error: x {dx:+.3f} %, y {dy:+.3f} % of the normalising distance (a bias, if not ~0)")
    regions = res.get("region_nme") or {}
    if regions:
        print_table("NME per region (%)", [regions], {k: ".3f" for k in regions})
    if args.json:
        import json

        from heatmark.atomic import atomic_write

        doc = {**res, "per_image_nme": [round(float(v), 6) for v in result.per_image],
               "images": [str(r.image_path) for r in result.records]}
        atomic_write(args.json, json.dumps(doc, indent=1))
    if args.plots:
        write_plots(result, Path(args.plots), f"{args.dataset}: CED of NME ({len(result.per_image)} faces)",
                    plot_label(Path(w)))
    return 0


def plot_label(w: Path) -> str:
    """A curve's name: the model's (``default``), or its run folder's for a checkpoint (``runs/x/final``)."""
    return w.parent.name if w.stem in ("final", "best", "last") else w.stem.split(".")[0] or "model"


def write_plots(result, plots: Path, title: str, label: str) -> None:
    import numpy as np

    from heatmark.engine.plots import ced_plot, prediction_grid

    per, recs = result.per_image, result.records
    ced_plot({label: per}, 0.10, plots / "ced.png", title)
    order = np.argsort(per)
    for name, idx in (("best", order[:6]), ("worst", order[::-1][:6])):
        prediction_grid([recs[i].load_image() for i in idx], [result.points[i] for i in idx],
                        [result.gt[i] for i in idx], result.scheme,
                        [f"{recs[i].name} {per[i] * 100:.1f}%" for i in idx], plots / f"{name}.png")
    print(f"plots in {plots}: ced.png, best.png, worst.png")
