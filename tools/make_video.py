"""Make a 640x480 test clip from face images (a slow pan and zoom over each), for `heatmark video`.

    python tools/make_video.py OUT.mp4 [IMAGES...] [--frames 150]
Default images: the 300W fixtures in tests/fixtures/300w.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def make_clip(out: Path, images: list[Path], frames: int = 150, size=(640, 480), fps: float = 30.0) -> Path:
    w, h = size
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    per = max(1, frames // len(images))
    for n in range(frames):
        img = cv2.imread(str(images[min(n // per, len(images) - 1)]))
        t = (n % per) / per
        s = h / img.shape[0] * (1.0 + 0.15 * np.sin(2 * np.pi * t))  # gentle zoom
        dx = (w - img.shape[1] * s) / 2 + 40 * np.sin(2 * np.pi * t)  # and pan
        dy = (h - img.shape[0] * s) / 2 + 20 * np.cos(2 * np.pi * t)
        m = np.array([[s, 0, dx], [0, s, dy]], np.float64)
        writer.write(cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT))
    writer.release()
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("images", nargs="*")
    ap.add_argument("--frames", type=int, default=150)
    a = ap.parse_args()
    imgs = [Path(p) for p in a.images] or sorted((ROOT / "tests/fixtures/300w").glob("*.jpg"))
    print(make_clip(Path(a.out), imgs, a.frames))
