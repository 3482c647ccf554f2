"""Time the NumPy heatmap decoders (what ``Landmarker`` runs after the network) on one face's real heatmaps.

The heatmaps are the shipped model's output for the faces of a 300W folder (ground-truth landmark boxes), decoded
one face at a time as ``Landmarker.predict(image, boxes=[box])`` does. Prints microseconds per face (the best of
five repeats of ``--number`` passes over the faces) for each decoder.

    python tools/time_decoders.py --root ../shared/data/300w_afw --limit 20
    git stash && python tools/time_decoders.py ... && git stash pop     # the same, for another version of the code
"""

from __future__ import annotations

import argparse
import timeit

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="a 300W folder: its photos and landmark boxes")
    ap.add_argument("--weights", default="default", help="a shipped heatmap model (default: default)")
    ap.add_argument("--limit", type=int, default=20, help="faces")
    ap.add_argument("--number", type=int, default=50, help="passes over the faces per repeat")
    args = ap.parse_args(argv)
    if args.limit < 1 or args.number < 1:
        raise SystemExit("--limit and --number must be at least 1")
    from heatmark import Landmarker
    from heatmark.codecs.numpy_decoders import DECODERS
    from heatmark.data.image_io import read_image
    from heatmark.data.readers import load_dataset

    lm = Landmarker(args.weights, detector=None)
    codec = lm.predictor.codec
    if codec.kind != "heatmap":
        raise SystemExit(f"{args.weights} is a {codec.kind} model; give a heatmap model")
    maps, forward = [], lm.predictor.forward

    def keep(x):  # the network's output for each face, as predict() produces it
        out = forward(x)
        maps.append(out)
        return out

    lm.predictor.forward = keep
    for r in load_dataset("300w", args.root)[:args.limit]:
        lm.predict(read_image(r.image_path), boxes=[np.r_[r.landmarks.min(0), r.landmarks.max(0)]])
    print(f"# {args.weights}: {len(maps)} faces, heatmaps {maps[0].shape[1:]}; microseconds per face")
    for name in DECODERS:  # through the codec, as predict() decodes (its parameters, points scaled by the stride)
        best = min(timeit.repeat(lambda: [codec.decode(m, name) for m in maps], number=args.number, repeat=5))
        print(f"{name:20s} {1e6 * best / args.number / len(maps):8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
