"""Before/after picture of the silhouette relabelling on FaceSynthetics samples.

    python tools/relabel_figure.py [--root ../shared/data/facesynthetics_100] [--out docs/relabel/silhouette.png]

Red: the FaceSynthetics jaw (3D, "x-ray"); green: moved onto the visible outline; magenta: kept (outline
occluded or too far); cyan: the face region's edge. Prints the median shift per jaw point in % of the
outer-eye-corner distance.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from heatmark.data.image_io import read_mask, write_image
from heatmark.data.readers import load_dataset
from heatmark.data.relabel import face_region, silhouette_jaw


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="../shared/data/facesynthetics_100")
    ap.add_argument("--out", default="docs/relabel/silhouette.png")
    ap.add_argument("--show", type=int, nargs="+", default=[0, 1, 2, 3, 4, 13, 60, 80], help="sample indices")
    a = ap.parse_args()
    recs = load_dataset("facesynthetics", a.root)
    shifts, tiles = [], {}
    for i, r in enumerate(recs):
        seg = read_mask(r.seg_path)
        new, ok = silhouette_jaw(r.landmarks, seg)
        iod = np.linalg.norm(r.landmarks[36] - r.landmarks[45])
        shifts.append(np.linalg.norm(new[:17] - r.landmarks[:17], axis=1) / iod * 100)
        if i in a.show:
            img = r.load_image().copy()
            cnts, _ = cv2.findContours(face_region(seg), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(img, cnts, -1, (0, 255, 255), 2)
            for p in r.landmarks[:17]:
                cv2.circle(img, (int(p[0]), int(p[1])), 5, (255, 0, 0), -1)
            for p, moved in zip(new[:17], ok):
                cv2.circle(img, (int(p[0]), int(p[1])), 5, (0, 220, 0) if moved else (255, 0, 255), -1)
            tiles[i] = cv2.resize(img, (256, 256), interpolation=cv2.INTER_AREA)
    s = np.array(shifts)
    print("median shift per jaw point, % of the outer-eye-corner distance:",
          [round(float(v), 1) for v in np.median(s, 0)])
    print(f"points moved onto the outline: {(s > 0.01).mean() * 100:.0f} %")
    row = [tiles[i] for i in a.show if i in tiles]
    half = (len(row) + 1) // 2
    row += [np.zeros_like(row[0])] * (2 * half - len(row))
    write_image(a.out, np.vstack([np.hstack(row[:half]), np.hstack(row[half:])]))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
