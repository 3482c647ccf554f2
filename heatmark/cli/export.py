"""``heatmark export``: weights → ONNX (optionally int8), checked against torch on a random batch."""

from __future__ import annotations

import argparse

from heatmark.cli.common import WEIGHTS_HELP, positive_int, weights


def add_arguments(ex: argparse.ArgumentParser) -> None:
    ex.add_argument("--format", default="onnx", choices=["onnx"])
    ex.add_argument("--weights", help=WEIGHTS_HELP)
    ex.add_argument("--out", default="heatmark.onnx")
    ex.add_argument("--int8", action="store_true", help="static int8 quantization (QDQ, per-channel weights), "
                    "calibrated on the faces of --calibrate")
    ex.add_argument("--calibrate", action="append", default=[], metavar="DIR",
                    help="with --int8: a folder of photos (faces found by the detector; labels are never read); "
                         "repeatable")
    ex.add_argument("--calibrate-limit", type=positive_int, default=200, help="with --int8: face crops used")


def run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    import numpy as np
    import torch

    from heatmark.checkpoint import load_model
    from heatmark.errors import HeatmarkError
    from heatmark.export import export_onnx, onnx_session

    if args.int8 and not args.calibrate:
        raise HeatmarkError("--int8 needs --calibrate DIR: a folder of photos with faces to calibrate on")
    model, _, _, meta = load_model(weights(args))
    size = int(meta["input_size"])
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx" if args.int8 else Path(args.out)
        path = export_onnx(model, size, fp32, meta=meta)
        sess = onnx_session(model, size, path)
        x = torch.rand(8, 3, size, size, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            ref = model(x).numpy()
        diff = float(np.abs(sess.run(None, {"image": x.numpy()})[0] - ref).max())
        if args.int8:
            path = _quantize(fp32, Path(args.out), args.calibrate, args.calibrate_limit)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); max abs difference of the fp32 export to torch on a "
          f"batch of 8: {diff:.2e}; Landmarker({str(path)!r}) runs it without torch")
    return 0


def _quantize(fp32, out, folders: list[str], limit: int):
    import numpy as np

    from heatmark.cli.predict import iter_images
    from heatmark.onnx_runtime import OnnxPredictor
    from heatmark.quantize import face_crops, quantize_int8

    crops = face_crops(fp32, list(iter_images(folders, recursive=True)), limit)
    path = quantize_int8(fp32, out, crops)
    a, b = OnnxPredictor(fp32).run_crops(crops)[0], OnnxPredictor(path).run_crops(crops)[0]
    d = np.linalg.norm(a - b, axis=-1)
    print(f"int8: {len(crops)} calibration face crops; points moved by {d.mean():.3f} crop px on average "
          f"(max {d.max():.2f}) against fp32 on those crops")
    return path
