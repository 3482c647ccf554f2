"""Measure a sparse scheme's ``box_expand`` from 68-point annotations (the medians stored in data/schemes.py).

    python tools/measure_box_expand.py --root ../shared/data/300w_helen_train --scheme face5

Prints the median ratio of the 68-point landmark box side to the converted points' box side, and the median
shift of the box centre in units of the converted box side.
"""

from __future__ import annotations

import argparse

import numpy as np

from heatmark.data.readers import load_dataset
from heatmark.data.schemes import convert_points


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="../shared/data/300w_helen_train")
    ap.add_argument("--scheme", default="face5")
    a = ap.parse_args()
    r68 = np.stack([r.landmarks for r in load_dataset("300w", a.root)]).astype(np.float64)
    sparse = convert_points(r68, "ibug68", a.scheme)

    def box(p):
        lo, hi = p.min(1), p.max(1)
        return (lo + hi) / 2, (hi - lo).max(1)

    c68, s68 = box(r68)
    cs, ss = box(sparse)
    shift = (c68 - cs) / ss[:, None]
    print(f"{len(r68)} faces: box_expand=({np.median(s68 / ss):.3f}, {np.median(shift[:, 0]):.3f}, "
          f"{np.median(shift[:, 1]):.3f})")


if __name__ == "__main__":
    main()
