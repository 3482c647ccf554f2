"""Quantize a shipped model's int8 file again with heatmark's current int8 settings, same weights.

    python tools/requantize_model.py default --int8-calibrate ../shared/data/300w_helen_train

For a change of the quantizer (heatmark.quantize) when the training run behind a shipped model is no longer at hand:
exports the shipped float weights to ONNX, calibrates on the faces of ``--int8-calibrate`` (photos; labels never
read), and measures int8 against fp32 as ``tools/package_model.py`` does (AFW NME with ground-truth boxes, ms per
face at batch 1: shipped only if it loses <= 0.1 points and is faster), then the detector-box accuracy of what
``Landmarker(NAME)`` now runs. The card's ``int8`` and ``accuracy_detector_boxes`` sections are replaced and a
``requantized`` entry says when, how and why (with this machine's ms per face); every other section (training,
GT-box accuracy of the float weights, speed rows, the int8 section's ms) stays as packaged. Run it with nothing
else running: it times both files.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import package_model as pm  # noqa: E402  (the packaging steps this tool repeats)

MS_KEYS = ("ms_per_face_fp32_onnx_b1", "ms_per_face_int8_b1")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", help="a shipped model with an int8 file (heatmark models)")
    ap.add_argument("--int8-calibrate", metavar="PHOTOS", required=True,
                    help="calibrate on the faces of these photos (the folder the model was packaged with)")
    ap.add_argument("--eval-root", default="../shared/data/300w_afw")
    ap.add_argument("--why", required=True, help="one line for the card: what changed in the quantizer")
    ap.add_argument("--weights-dir", type=Path, default=pm.ROOT / "heatmark" / "weights")
    ap.add_argument("--docs", type=Path, help="also replace the card copy in this folder (docs/results/NAME)")
    args = ap.parse_args(argv)

    from heatmark.checkpoint import load_tensors
    from heatmark.cli import main as cli
    from heatmark.engine.bench import machine
    from heatmark.quantize import quantize_int8

    code = pm.commit()  # before this tool writes into heatmark/weights (which would read as uncommitted)
    dst = args.weights_dir / f"{args.name}.safetensors"
    int8 = dst.with_suffix(".int8.onnx")
    if not dst.is_file() or not int8.is_file():
        sys.exit(f"{args.name}: needs {dst} and {int8} (a shipped model whose card says int8 was shipped)")
    tensors, meta = load_tensors(dst)
    card = meta["card"]
    before = {"nme_int8": card["int8"]["nme_int8"], "nme_detector_boxes": card["accuracy_detector_boxes"]["nme"]}
    pm.write_onnx(dst)
    crops = pm.calibration_crops(dst.with_suffix(".onnx"), args.int8_calibrate)
    packaged = card["int8"]
    card["int8"] = pm.int8_check(cli, dst, args.eval_root, args.int8_calibrate, crops, card["accuracy"]["nme"])
    timed = {k: card["int8"][k] for k in MS_KEYS}  # this machine's timing decides "shipped" (int8 still faster)
    card["int8"].update({k: packaged[k] for k in MS_KEYS})  # the card's speed stays the packaging machine's
    int8.unlink()
    if card["int8"]["shipped"]:  # the detector-box evaluation runs what Landmarker runs
        quantize_int8(dst.with_suffix(".onnx"), int8, crops)
    card["accuracy_detector_boxes"] = pm.detector_accuracy(cli, args.eval_root, dst, args.name)
    card["requantized"] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"), "why": args.why, "commit": code,
        "machine": f"{machine()}, {platform.processor() or platform.machine()}",
        "command": shlex.join(["python", "tools/requantize_model.py", *(argv if argv is not None else sys.argv[1:])]),
        "before": before, "ms_per_face_this_machine": timed,
        "speed": "the graph is unchanged (same operators, other weight values): the card's ms are the packaging's"}
    pm.write_shipped(dst, tensors, {**meta, "card": card}, crops)
    if args.docs:
        (args.docs / "card.json").write_text(json.dumps(card, indent=1))
    print(json.dumps({k: card[k] for k in ("int8", "accuracy_detector_boxes", "requantized")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
