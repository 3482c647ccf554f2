"""Time several models through the public API (``Landmarker(name).predict(image, boxes=[box])``, batch 1) in
interleaved rounds in one process, so that a VM's drift between models cancels out (``heatmark bench speed``'s
frontier times each model once, one after the other).

Models are shipped names or names of packages copied into ``heatmark/weights`` for the measurement
(``tools/package_model.py`` writes them). Boxes: each face's landmark box (ground truth). Prints the median ms per
face of every model in every round, and the median over rounds.

    python tools/time_landmarkers.py default fast --root ../shared/data/300w_afw --limit 40 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help="shipped model names (or packages copied into heatmark/weights)")
    ap.add_argument("--root", required=True, help="a 300W folder: its photos and landmark boxes")
    ap.add_argument("--limit", type=int, default=40, help="faces per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    if args.limit < 1 or args.rounds < 1:
        raise SystemExit("--limit and --rounds must be at least 1")
    from heatmark import Landmarker
    from heatmark.data.image_io import read_image
    from heatmark.data.readers import load_dataset

    faces = [(read_image(r.image_path), np.r_[r.landmarks.min(0), r.landmarks.max(0)])
             for r in load_dataset("300w", args.root)[:args.limit]]
    models = {name: Landmarker(name) for name in args.models}
    print(f"# {len(faces)} faces, load average {os.getloadavg()[0]:.2f}; ms per face (median), batch 1")
    print("| round | " + " | ".join(models) + " |")
    print("| ---: |" + " ---: |" * len(models))
    table = {name: [] for name in models}
    for rnd in range(args.rounds):
        for name, lm in models.items():
            for image, box in faces[:5]:  # warm-up, untimed
                lm.predict(image, boxes=[box])
            times = []
            for image, box in faces:
                start = time.perf_counter()
                lm.predict(image, boxes=[box])
                times.append(time.perf_counter() - start)
            table[name].append(1000 * float(np.median(times)))
        print(f"| {rnd + 1} | " + " | ".join(f"{table[n][-1]:.2f}" for n in models) + " |")
    print("| median | " + " | ".join(f"{np.median(table[n]):.2f}" for n in models) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
