"""``heatmark video``: landmarks on a video file or a camera, with tracking and One Euro smoothing."""

from __future__ import annotations

import argparse

from heatmark.cli.common import add_model_arguments, landmarker


def add_arguments(vi: argparse.ArgumentParser) -> None:
    vi.add_argument("input", nargs="?", help="video file")
    vi.add_argument("--camera", type=int, help="camera index instead of a file")
    vi.add_argument("--out", default="landmarks.mp4", help="annotated output video (.mp4)")
    add_model_arguments(vi)
    vi.add_argument("--no-smooth", action="store_true", help="no One Euro smoothing")
    vi.add_argument("--min-cutoff", type=float, default=1.0, help="One Euro min cut-off (Hz): lower = smoother")
    vi.add_argument("--beta", type=float, default=0.05, help="One Euro speed coefficient: higher = less lag")
    vi.add_argument("--min-score", type=float, default=0.15, help="mean point score under which tracking is lost")
    vi.add_argument("--max-frames", type=int)


def run(args: argparse.Namespace) -> int:
    from heatmark.errors import HeatmarkError
    from heatmark.video import process_video

    if (args.input is None) == (args.camera is None):
        raise HeatmarkError("give a video file or --camera N (one of them)")
    lm = landmarker(args)
    source = args.camera if args.camera is not None else args.input
    stats = process_video(lm, source, args.out, smooth=not args.no_smooth, min_cutoff=args.min_cutoff,
                          beta=args.beta, min_score=args.min_score, max_frames=args.max_frames)
    lm_ms = stats.landmark_seconds / max(stats.frames, 1) * 1000
    print(f"{stats.frames} frames in {stats.seconds:.2f} s: {stats.fps:.1f} FPS end to end "
          f"(detection ran on {stats.detections} frames; detection+landmarks {lm_ms:.1f} ms/frame) -> {args.out}")
    return 0
