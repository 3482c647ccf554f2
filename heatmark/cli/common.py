"""What several commands share: weights and model arguments, image listing, tables, skipped-sample reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
BUNDLED_SAMPLES = PACKAGE / "assets" / "samples"
BUNDLED_PHOTO = BUNDLED_SAMPLES / "photo.jpg"
WEIGHTS_HELP = ("a .safetensors or .onnx file, or a shipped model: default (the most accurate; used when absent), "
                "fast (smaller network) or synthetic (no real landmark labels)")


def report_skipped(errors) -> None:
    """List the bad samples a --skip-bad run left out, one line each on stderr."""
    for e in errors:
        print(f"skipped: {e}", file=sys.stderr)


def weights(args: argparse.Namespace) -> Path:
    """--weights: a file, a shipped model's name (default, synthetic), or absent for the default. Says on stderr
    when a shipped name is also a local path (the shipped model wins)."""
    from heatmark.shipped import resolve_weights, shadowed_name

    note = shadowed_name(args.weights)
    if note:
        print(note, file=sys.stderr)
    return resolve_weights(args.weights)


def add_model_arguments(sp: argparse.ArgumentParser) -> None:
    """--weights, --detector, --backend, --flip: the options of commands that run a Landmarker."""
    sp.add_argument("--weights", help=WEIGHTS_HELP)
    sp.add_argument("--detector", default="mtcnn", type=detector_name(full=True), metavar="{mtcnn,opencv,dlib,full}",
                    help="face detector; mtcnn:MIN_FACE looks for faces of at least MIN_FACE pixels (default 40; "
                    "48 is faster); 'full': each image is one face crop")
    sp.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"],
                    help="auto: onnxruntime for shipped models and .onnx files (no torch), torch otherwise")
    sp.add_argument("--flip", action="store_true", help="horizontal-flip test-time augmentation")
    sp.add_argument("--no-upright", action="store_true", help="axis-aligned face crops (no roll correction from "
                    "the detector's eye points)")
    sp.add_argument("--adapter", help="a label adapter applied to every prediction: an .npz from heatmark adapt, or "
                    "the name of one shipped with the model (synthetic: 300w)")
    add_refine_argument(sp)


def add_refine_argument(sp: argparse.ArgumentParser) -> None:
    """--refine N: extra landmark passes on crops cut around the previous pass's points."""
    sp.add_argument("--refine", type=refine_count, default=None, metavar="N",
                    help="N more passes per face, each on the crop cut around the last pass's landmarks (0-5): "
                    "less dependence on the face box, N more network runs per face (default: 1 with the dlib and "
                    "opencv detectors, else 0)")


def landmarker(args: argparse.Namespace):
    from heatmark.api import Landmarker

    det = None if args.detector in ("full", "none") else args.detector
    return Landmarker(weights(args), detector=det, backend=args.backend, flip=args.flip, adapter=args.adapter,
                      upright=not getattr(args, "no_upright", False), refine=args.refine)


def print_table(title: str, rows: list[dict], formats: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in rows[0]:
        table.add_column(col, justify="right" if col in formats else "left")
    for r in rows:
        table.add_row(*[format(v, formats[k]) if k in formats else str(v) for k, v in r.items()])
    Console(width=max(120, Console().width)).print(table)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1, with a message naming the value."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def refine_count(text: str) -> int:
    """argparse type: a number of refinement passes, checked by :func:`heatmark.refine.refine_passes`."""
    from heatmark.errors import HeatmarkError
    from heatmark.refine import refine_passes

    try:
        return refine_passes(int(text))
    except (ValueError, HeatmarkError):
        raise argparse.ArgumentTypeError(f"expected a whole number of passes from 0 to 5, got {text!r}") from None


def detector_name(full: bool = False):
    """argparse type: mtcnn, opencv, dlib, mtcnn:MIN_FACE (and full where ``full``), with a clear error."""
    def check(value: str) -> str:
        from heatmark.detect import DETECTORS, mtcnn_min_face
        from heatmark.errors import HeatmarkError

        valid = [*DETECTORS, *(["full"] if full else [])]
        if value in valid:
            return value
        if value.startswith("mtcnn:"):
            try:
                mtcnn_min_face(value)
            except HeatmarkError as e:
                raise argparse.ArgumentTypeError(str(e)) from None
            return value
        raise argparse.ArgumentTypeError(f"invalid detector {value!r}; choose from {', '.join(valid)} "
                                         "or mtcnn:MIN_FACE")
    return check
