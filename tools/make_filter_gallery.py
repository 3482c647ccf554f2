"""The README's face-filter gallery: every built-in overlay on the bundled photo (four AFW faces).

    python tools/make_filter_gallery.py [--out docs/filters/gallery.jpg]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from heatmark import Landmarker
from heatmark.cli.common import BUNDLED_PHOTO
from heatmark.data.image_io import read_image
from heatmark.filters import BUILTIN, load_overlay


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/filters/gallery.jpg")
    a = ap.parse_args()
    rgb = read_image(BUNDLED_PHOTO, orient=True)
    faces = Landmarker().predict(rgb)
    rows = []
    for name in BUILTIN:
        out = rgb
        for f in faces:
            out = load_overlay(name).apply(out, f.landmarks)
        rows.append(cv2.resize(out, (out.shape[1] // 2, out.shape[0] // 2), interpolation=cv2.INTER_AREA))
    grid = np.vstack(rows)
    from pathlib import Path

    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(a.out, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {a.out}: {', '.join(BUILTIN)} on {len(faces)} faces")


if __name__ == "__main__":
    main()
