"""``heatmark filter``: accessories (glasses, moustache, hat, mask, or your own PNG) placed from the landmarks."""

from __future__ import annotations

import argparse
from pathlib import Path

from heatmark.cli.common import add_model_arguments, landmarker, report_skipped


def add_arguments(fl: argparse.ArgumentParser) -> None:
    fl.add_argument("inputs", nargs="*", help="photos or folders")
    fl.add_argument("--overlay", default="glasses",
                    help="glasses, moustache, hat, mask, or a .yaml file describing your own RGBA PNG")
    fl.add_argument("--out", default="filtered", help="output folder (photos) or .mp4 file (--video/--camera)")
    fl.add_argument("--video", help="a video file instead of photos (tracked and smoothed as heatmark video)")
    fl.add_argument("--camera", type=int, help="a camera index instead of photos")
    fl.add_argument("--max-frames", type=int)
    fl.add_argument("--skip-bad", action="store_true", help="list and skip unreadable photos instead of stopping")
    add_model_arguments(fl)


def run(args: argparse.Namespace) -> int:
    from heatmark.errors import HeatmarkError
    from heatmark.filters import load_overlay

    overlay = load_overlay(args.overlay)  # a bad overlay stops before any model is loaded
    if args.video is not None or args.camera is not None:
        if args.inputs or (args.video is not None and args.camera is not None):
            raise HeatmarkError("give photos, or --video FILE, or --camera N (one of them)")
        from heatmark.video import process_video

        out = args.out if args.out.endswith(".mp4") else str(Path(args.out) / "filtered.mp4")
        stats = process_video(landmarker(args), args.camera if args.camera is not None else args.video, out,
                              max_frames=args.max_frames, render=overlay.apply)
        print(f"{stats.frames} frames, {stats.fps:.1f} FPS end to end -> {out}")
        return 0
    if not args.inputs:
        raise HeatmarkError("give photos or folders to filter (or --video / --camera)")
    from heatmark.cli.predict import iter_images, output_names, read_or_skip, refuse_overwrite
    from heatmark.data.image_io import write_image

    images = list(iter_images(args.inputs, recursive=False))
    out = Path(args.out)
    refuse_overwrite(images, out, no_images=False)
    lm = landmarker(args)
    bad, n_faces = [], 0
    for path, stem in zip(images, output_names(images)):
        read = read_or_skip(path, args.skip_bad, bad)
        if read is None:
            continue
        rgb = read[0]
        faces = lm.predict(rgb)
        for f in faces:
            rgb = overlay.apply(rgb, f.landmarks)
        n_faces += len(faces)
        write_image(out / f"{stem}.png", rgb)
    report_skipped(bad)
    print(f"{len(images) - len(bad)} photos, {n_faces} faces with '{args.overlay}' -> {out}")
    return 0
