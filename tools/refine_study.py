"""The refinement pass measured: shipped models × face boxes × (refine, flip) on an annotated set.

    python tools/refine_study.py --root ../shared/data/300w_afw --models default fast synthetic \\
        --out docs/results/refine

Every cell is ``heatmark eval`` (:func:`heatmark.engine.evaluate.evaluate_weights`) with ground-truth boxes or a
detector's boxes (faces matched to the annotations; NME over the found faces), with ``refine`` extra passes on
crops cut around the last pass's points and flip test-time augmentation on the last pass. Shipped models run as
``Landmarker`` runs them (their ONNX file), so refinement and the first pass use the same network. Writes
``table.md`` (NME %, one row per model and boxes) and ``results.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

VARIANTS = {"plain": (0, False), "refine 1": (1, False), "refine 2": (2, False), "flip": (0, True),
            "refine 1 + flip": (1, True), "refine 1, roll kept": (1, False)}
ROLL_KEPT = "refine 1, roll kept"  # MTCNN only (the one detector giving rolls): refinement crops keep its roll
BOXES = ("gt", "mtcnn", "dlib", "opencv")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="../shared/data/300w_afw")
    ap.add_argument("--models", nargs="+", default=["default", "fast", "synthetic"])
    ap.add_argument("--boxes", nargs="+", default=list(BOXES), choices=BOXES)
    ap.add_argument("--out", required=True, help="folder for table.md and results.json")
    args = ap.parse_args()

    import heatmark.refine
    from heatmark.engine.bench import cpu_name
    from heatmark.engine.evaluate import evaluate_weights
    from heatmark.shipped import resolve_weights, shipped_onnx

    results = []
    for name in args.models:
        w = resolve_weights(name)
        w = shipped_onnx(w) or w
        for boxes in args.boxes:
            for variant, (refine, flip) in VARIANTS.items():
                if variant == ROLL_KEPT and boxes != "mtcnn":
                    continue
                t = time.perf_counter()
                kw = {"boxes": "gt"} if boxes == "gt" else {"boxes": "detector", "detector": boxes}
                keep = heatmark.refine.REFINE_KEEP_ROLL_DEG
                heatmark.refine.REFINE_KEEP_ROLL_DEG = 0.0 if variant == ROLL_KEPT else keep
                try:
                    m = evaluate_weights(w, "300w", args.root, flip=flip, refine=refine, **kw).metrics
                finally:
                    heatmark.refine.REFINE_KEEP_ROLL_DEG = keep
                results.append({"model": name, "weights": str(w), "boxes": boxes, "variant": variant,
                                "refine": refine, "flip": flip, "n": m["n"], "nme": round(m["nme"], 3),
                                "nme_no_jaw": round(m["nme_no_jaw"], 3), "faces": m.get("faces", m["n"])})
                print(json.dumps(results[-1]), f"({time.perf_counter() - t:.0f} s)", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [f"NME % on `{args.root}` (faces: ground-truth boxes, or those the detector found; the columns of a row "
             "are the same faces). Network runs per face: plain 1, refine 1 2, refine 2 3, flip 2, refine 1 + flip 3. "
             "Refinement crops are axis-aligned, except in the last column (MTCNN only: they keep the roll MTCNN's "
             "eye points give the first crop).",
             "", "| model | boxes | faces | " + " | ".join(VARIANTS) + " |",
             "| --- | --- | ---: | " + " | ".join("---:" for _ in VARIANTS) + " |"]
    for name in args.models:
        for boxes in args.boxes:
            row = {r["variant"]: r for r in results if r["model"] == name and r["boxes"] == boxes}
            best = min(r["nme"] for r in row.values())
            cells = [("—" if v not in row else f"**{row[v]['nme']:.3f}**" if row[v]["nme"] == best
                      else f"{row[v]['nme']:.3f}") for v in VARIANTS]
            lines.append(f"| {name} | {boxes} | {next(iter(row.values()))['n']} | " + " | ".join(cells) + " |")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = f"python tools/refine_study.py --root {args.root} --models {' '.join(args.models)}" + (
        f" --boxes {' '.join(args.boxes)}" if list(args.boxes) != list(BOXES) else "") + f" --out {args.out}"
    lines += ["", f"Machine: {cpu_name()}, {os.cpu_count()} cores; written {stamp} by `{command}`."]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
