"""Measure a face detector on annotated faces: recall, and the box calibration heatmark.detect uses.

    python tools/calibrate_detector.py --detector opencv --dataset 300w --root ../shared/data/300w_afw

A face counts as found when a detection's box overlaps its landmark box with IoU >= 0.3 (the best such
detection is matched). Over matched faces the median of
    ratio = landmark-box side / detector box side,  dx, dy = (landmark-box centre - box centre) / box side
is the calibration: crop box = (box centre + (dx, dy)·side, side · ratio · box_scale).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from heatmark.data.readers import load_dataset
from heatmark.detect import get_detector, match_detection


def calibrate(detector_name: str, records) -> dict:
    det = get_detector(detector_name)
    found, ratios, dxs, dys, times = 0, [], [], [], []
    for r in records:
        img = r.load_image()
        t = time.perf_counter()
        boxes, _ = det(img)
        times.append(time.perf_counter() - t)
        j = match_detection(boxes, r.landmarks)
        if j is None:
            continue
        lo, hi = r.landmarks.min(0), r.landmarks.max(0)
        found += 1
        b = boxes[j]
        side = max(b[2] - b[0], b[3] - b[1])
        ratios.append(max(hi - lo) / side)
        dxs.append(((lo[0] + hi[0]) / 2 - (b[0] + b[2]) / 2) / side)
        dys.append(((lo[1] + hi[1]) / 2 - (b[1] + b[3]) / 2) / side)
    return {"detector": detector_name, "faces": len(records), "found": found,
            "recall": found / max(len(records), 1),
            "calibration": [round(float(np.median(ratios)), 4), round(float(np.median(dxs)), 4),
                            round(float(np.median(dys)), 4)] if found else None,
            "ms_per_image": float(np.median(times) * 1000)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--detector", default="opencv")
    ap.add_argument("--dataset", default="300w")
    ap.add_argument("--root", default="../shared/data/300w_afw")
    a = ap.parse_args()
    print(json.dumps(calibrate(a.detector, load_dataset(a.dataset, a.root)), indent=1))
