"""Single-face speed of a shipped model's onnxruntime path per thread setting, on idle or busy cores.

Times ``Landmarker(NAME, detector=None).predict(photo, boxes=[box])`` (crop, network, DARK, back to the photo)
on AFW photos with ground-truth boxes, with the single-face session fixed to one thread, fixed to two spinning
threads, and left to :class:`heatmark.onnx_runtime.FastestSession` (heatmark's default), in rounds that
alternate the settings. ``--busy N`` starts N processes that spin on the CPU during the timing (a busy machine).

    python tools/thread_check.py --weights default fast --root ../shared/data/300w_afw
    python tools/thread_check.py --weights default --busy 2
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np


def _spin(stop) -> None:
    while not stop.is_set():
        pass


def _faces(root: Path, limit: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB photo, ground-truth box) of the first ``limit`` 300W faces in ``root``."""
    from heatmark.data.readers import load_dataset

    return [(rec.load_image(), np.r_[rec.landmarks.min(0), rec.landmarks.max(0)])
            for rec in load_dataset("300w", root)[:limit]]


def _time(lm, faces, repeats: int) -> float:
    for rgb, box in faces[:5]:  # warm-up, not timed
        lm.predict(rgb, boxes=[box])
    times = []
    for _ in range(repeats):
        for rgb, box in faces:
            start = time.perf_counter()
            lm.predict(rgb, boxes=[box])
            times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", nargs="+", default=["default"], help="shipped model names or .onnx files")
    ap.add_argument("--root", type=Path, default=Path("../shared/data/300w_afw"), help="a folder of .pts faces")
    ap.add_argument("--limit", type=int, default=30, help="faces")
    ap.add_argument("--repeats", type=int, default=5, help="passes over the faces per setting and round")
    ap.add_argument("--rounds", type=int, default=2, help="rounds alternating the settings")
    ap.add_argument("--busy", type=int, default=0, help="processes spinning on the CPU during the timing")
    args = ap.parse_args(argv)

    import heatmark
    from heatmark.onnx_runtime import FastestSession, single_face_options

    faces = _faces(args.root, args.limit)
    stop = mp.Event()
    busy = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    for p in busy:
        p.start()
    time.sleep(1.0 if busy else 0.0)  # the busy processes running before anything is timed
    try:
        print(f"{os.cpu_count()} CPUs, {args.busy} busy processes, {len(faces)} faces x {args.repeats} repeats, "
              f"median ms per face (whole predict), {args.rounds} rounds")
        for name in args.weights:
            lm = heatmark.Landmarker(name, detector=None)
            pred = lm.predictor
            if lm.backend != "onnx":
                raise SystemExit(f"{name}: not an onnxruntime model")
            options = single_face_options(pred.path)  # what OnnxPredictor chooses from: each alone, then the choice
            settings = {label: (lambda f=f, label=label: FastestSession({label: f})) for label, f in options.items()}
            settings["heatmark's default (measured choice)"] = lambda: FastestSession(options)
            results: dict[str, list[float]] = {k: [] for k in settings}
            for _ in range(args.rounds):
                for label, make in settings.items():
                    pred.single_face = make()
                    results[label].append(_time(lm, faces, args.repeats))
            for label, ms in results.items():
                print(f"  {name:10s} {label:38s} " + "  ".join(f"{v:6.2f}" for v in ms))
    finally:
        stop.set()
        for p in busy:
            p.join(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
