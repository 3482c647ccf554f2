"""Diagnostic only: how close a pseudo-label file (heatmark pseudo-label) is to the photos' own annotations.

    python tools/score_pseudo_labels.py bench_results/transfer/pseudo/helen_teacher_silhouette_s0.json \\
        --root ../shared/data/300w_helen_train

The annotations are read here to judge the teacher, never to train: training reads only the JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from heatmark.data.readers import load_dataset
from heatmark.data.schemes import IBUG68
from heatmark.engine.metrics import nme


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("labels")
    ap.add_argument("--root", default="../shared/data/300w_helen_train")
    a = ap.parse_args()
    doc = json.loads(Path(a.labels).read_text())
    gt = {r.image_path.name: r.landmarks for r in load_dataset("300w", a.root)}
    pred = np.stack([np.asarray(x["keypoints"]).reshape(-1, 3)[:, :2] for x in doc["annotations"]])
    ref = np.stack([gt[Path(im["file_name"]).name] for im in doc["images"]])
    e = nme(pred, ref, IBUG68) * 100
    print(f"{len(e)} pseudo-labelled faces: NME against the annotations {e.mean():.2f} % (median "
          f"{np.median(e):.2f}, {(e > 10).mean() * 100:.1f} % over 10 %)")


if __name__ == "__main__":
    main()
