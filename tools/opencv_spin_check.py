"""Does OpenCV's thread-pool spinning slow heatmark's landmark stage? Times ``Landmarker(model).predict(photo,
boxes=[box])`` per face on AFW photos in child processes that alternate OpenCV's worker active wait (its default,
2000, and heatmark's setting, 0: ``OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER``, read when cv2 is imported), and the
MTCNN detector per 640x480 canvas. Run it on a quiet machine.

    python tools/opencv_spin_check.py --root ../shared/data/300w_afw --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
from heatmark.api import Landmarker
from heatmark.data.readers import load_dataset
from heatmark.engine.detector_bench import small_face_canvases
from heatmark.engine.speed import median_ms_per_item
root, model, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
recs = load_dataset("300w", root)[:limit]
faces = [(r.load_image(), [*r.landmarks.min(0), *r.landmarks.max(0)]) for r in recs]
lm = Landmarker(model, detector=None)
face_ms = median_ms_per_item(lambda f: lm.predict(f[0], boxes=[f[1]]), faces, 10)
det = Landmarker(model)
canvases = [c for c, _ in small_face_canvases(recs)]
det_ms = median_ms_per_item(det.detect, canvases, 5)
print(json.dumps({"ms_per_face": face_ms, "detect_ms": det_ms}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="../shared/data/300w_afw")
    ap.add_argument("--model", default="default")
    ap.add_argument("--limit", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"# load average {os.getloadavg()[0]:.2f}; Landmarker({args.model!r}), {args.limit} AFW faces")
    results: dict[str, list[dict]] = {"2000": [], "0": []}
    for _ in range(args.rounds):
        for wait in results:
            env = {**os.environ, "OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER": wait}
            out = subprocess.run([sys.executable, "-c", CHILD, args.root, args.model, str(args.limit)], env=env,
                                 capture_output=True, text=True, check=True).stdout
            results[wait].append(json.loads(out.strip().splitlines()[-1]))
    for wait, rows in results.items():
        face = statistics.median(r["ms_per_face"] for r in rows)
        det = statistics.median(r["detect_ms"] for r in rows)
        label = "OpenCV default (workers spin)" if wait == "2000" else "heatmark's setting (no spin)"
        print(f"OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER={wait:5s} {label:30s} landmarks {face:.2f} ms/face, "
              f"MTCNN {det:.2f} ms per 640x480 (median of {len(rows)} processes)")


if __name__ == "__main__":
    main()
