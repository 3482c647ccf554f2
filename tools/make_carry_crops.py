"""Shrink a 300W ``.pts`` folder into a small copy of itself for a device call (whose carried files are limited).

Each face becomes a square JPEG crop of ``--context`` × its landmark box, scaled so that box is ``--box`` pixels,
with its landmarks moved into the crop and written as a ``.pts`` file of the same name. The copy is again a 300W
folder: ``heatmark train``/``eval`` read it unchanged (the crop cache then cuts its own, smaller context crops).
Keep ``--box`` at or above the face size the model sees (``data.input_size / data.box_scale``: 128 px at 160 px)
and ``--context`` above the cache's 1.8, so nothing a training crop reads is lost but JPEG's detail.

    python tools/make_carry_crops.py ../shared/data/300w_helen_train .carry/helen --box 136 --context 2.0
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from heatmark.data.crops import box_from_landmarks, crop_matrix, transform_points, warp
from heatmark.data.readers import load_dataset, write_pts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", help="300W folder (.pts beside each image)")
    ap.add_argument("out", help="new folder for the shrunk copy (must not hold files)")
    ap.add_argument("--box", type=float, default=136.0, help="landmark box side in the crop, pixels")
    ap.add_argument("--context", type=float, default=2.0, help="crop side / landmark box side")
    ap.add_argument("--quality", type=int, default=90, help="JPEG quality")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} already holds files: give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    records = load_dataset("300w", args.root)
    size = int(round(args.box * args.context))

    def one(r) -> int:
        m = crop_matrix(box_from_landmarks(r.landmarks, args.context), size)
        rgb = warp(r.load_image(), m, size)
        path = out / f"{r.name}.jpg"
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, args.quality])
        if not ok:
            raise SystemExit(f"could not encode {path}")
        path.write_bytes(buf.tobytes())
        write_pts(out / f"{r.name}.pts", transform_points(m, r.landmarks))
        return len(buf)

    with ThreadPoolExecutor(4) as ex:
        sizes = np.array(list(ex.map(one, records)))
    print(f"{len(records)} faces -> {out}: {size}x{size} px crops, {sizes.sum() / 2**20:.1f} MiB of JPEG")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
