"""Build heatmark/assets/samples/photo.jpg, the photo `heatmark predict` uses when given no input: four real
AFW faces from tests/fixtures/300w (300W/AFW, research use) side by side, upscaled 2x to 1280x320.

    python tools/make_sample_photo.py
"""

from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["1051618982_1", "111076519_1", "1130084326_2", "1139324862_1"]


def main() -> None:
    tiles = []
    for n in NAMES:
        im = cv2.imread(str(ROOT / "tests" / "fixtures" / "300w" / f"{n}.jpg"))
        tiles.append(cv2.resize(im, (160, 160), interpolation=cv2.INTER_AREA))
    photo = cv2.resize(np.hstack(tiles), None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    out = ROOT / "heatmark" / "assets" / "samples" / "photo.jpg"
    cv2.imwrite(str(out), photo, [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"wrote {out} {photo.shape[1]}x{photo.shape[0]}")


if __name__ == "__main__":
    main()
