"""``heatmark pseudo-label``: a teacher labels unannotated photos for self-training (no annotation file read)."""

from __future__ import annotations

import argparse

from heatmark.cli.common import WEIGHTS_HELP, weights


def add_arguments(ps: argparse.ArgumentParser) -> None:
    ps.add_argument("images", help="a folder of photos (searched recursively; only image files are opened)")
    ps.add_argument("--weights", help="teacher: " + WEIGHTS_HELP)
    ps.add_argument("--out", required=True, help="pseudo-label JSON to write (train with --dataset coco)")
    ps.add_argument("--detector", default="mtcnn", choices=["mtcnn", "opencv", "dlib"])
    ps.add_argument("--no-flip", action="store_true", help="no flip test-time augmentation for the teacher")
    ps.add_argument("--keep", type=float, default=0.8, help="share of photos kept, most confident first")


def run(args: argparse.Namespace) -> int:
    from heatmark.engine.pseudo import pseudo_label

    pseudo_label(weights(args), args.images, args.out, args.detector, not args.no_flip, args.keep)
    return 0
