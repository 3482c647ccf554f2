"""dlib's 68-point shape predictor on an annotated 300W-style set, scored like heatmark (NME, outer eye corners).

    python tools/dlib_accuracy.py --root ../shared/data/300w_afw [--also default synthetic] [--refine 1]

Faces found by dlib's HOG detector (upsample 1), matched to the annotations with the rule of
``heatmark bench detectors`` (IoU >= 0.3); NME over the matched faces. With ``--also``, heatmark models are
scored on the same faces from the same HOG boxes (through heatmark's box calibration for dlib), so the
comparison is like for like (``--refine N``: heatmark's refinement passes after the first, as
``Landmarker(detector="dlib")`` makes one by default). Caveat printed with the
result: dlib's model was trained on iBUG 300-W, which includes AFW's and Helen's training images.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="../shared/data/300w_afw")
    ap.add_argument("--also", nargs="*", default=[], help="heatmark models scored on the same faces and boxes")
    ap.add_argument("--refine", type=int, default=0, help="heatmark's refinement passes (Landmarker(refine=N))")
    args = ap.parse_args()

    import dlib

    from heatmark.api import Landmarker
    from heatmark.data.readers import load_dataset
    from heatmark.data.schemes import IBUG68
    from heatmark.detect import crop_box_from_detection, dlib_boxes, match_detection
    from heatmark.engine.metrics import nme
    from heatmark.engine.speed import dlib_model_path

    hog, shape = dlib.get_frontal_face_detector(), dlib.shape_predictor(str(dlib_model_path()))
    models = {name: Landmarker(name, detector=None, refine=args.refine) for name in args.also}
    records = load_dataset("300w", args.root)
    gt, preds = [], {"dlib": [], **{m: [] for m in models}}
    for r in records:
        img = r.load_image()
        rects = hog(img, 1)
        if not rects:
            continue
        b = dlib_boxes(rects)
        j = match_detection(b, r.landmarks)
        if j is None:
            continue
        s = shape(img, rects[j])
        # dlib's points are pixel indices (centre of pixel (0, 0) at 0): +0.5 to heatmark's continuous convention
        preds["dlib"].append(np.array([[p.x + 0.5, p.y + 0.5] for p in s.parts()], np.float64))
        for name, lm in models.items():  # dlib's HOG box through heatmark's calibration for it (heatmark.detect)
            crop = crop_box_from_detection(b[j], "dlib", lm.box_scale)
            preds[name].append(lm.predict_boxes(img, [crop])[0][0])
        gt.append(r.landmarks)
    gt = np.stack(gt)
    out = {"root": args.root, "faces": len(records), "found_by_hog": len(gt), "heatmark_refine": args.refine,
           "caveat": "dlib's shape predictor was trained on iBUG 300-W (AFW, Helen, LFPW training images included)"}
    for name, p in preds.items():
        out[f"nme_{name}"] = round(float(np.mean(nme(np.stack(p), gt, IBUG68))) * 100, 3)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
