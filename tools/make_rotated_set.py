"""A 300W-style copy of an annotated folder with every photo turned in-plane (about the face centre), for
measuring detector-box landmarks on rolled faces (``heatmark eval --boxes detector`` with and without
``--no-upright``).

    python tools/make_rotated_set.py ../shared/data/300w_afw /tmp/afw_rot30 --degrees 30
Odd-numbered faces turn by +DEGREES, even ones by -DEGREES. Points are written in 300W's 1-based convention.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("out", type=Path)
    ap.add_argument("--degrees", type=float, default=30.0)
    args = ap.parse_args()
    from heatmark.data.readers import load_dataset

    args.out.mkdir(parents=True, exist_ok=True)
    for i, r in enumerate(load_dataset("300w", args.src)):
        img = r.load_image()
        c = r.landmarks.mean(0)
        angle = args.degrees if i % 2 else -args.degrees
        # OpenCV's matrix acts on pixel indices; heatmark's points are continuous (index + 0.5)
        m = cv2.getRotationMatrix2D((float(c[0] - 0.5), float(c[1] - 0.5)), angle, 1.0)
        out = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)
        pts = (r.landmarks - 0.5) @ m[:, :2].T + m[:, 2]  # pixel-index coordinates = 1-based .pts - 1
        stem = f"{i:04d}_{r.image_path.stem}"
        cv2.imwrite(str(args.out / f"{stem}.jpg"), cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        lines = ["version: 1", f"n_points: {len(pts)}", "{", *[f"{x + 1:.3f} {y + 1:.3f}" for x, y in pts], "}"]
        (args.out / f"{stem}.pts").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
