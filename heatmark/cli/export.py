"""``heatmark export``: weights → ONNX, checked against torch on a random batch."""

from __future__ import annotations

import argparse

from heatmark.cli.common import WEIGHTS_HELP, weights


def add_arguments(ex: argparse.ArgumentParser) -> None:
    ex.add_argument("--format", default="onnx", choices=["onnx"])
    ex.add_argument("--weights", help=WEIGHTS_HELP)
    ex.add_argument("--out", default="heatmark.onnx")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from heatmark.checkpoint import load_model
    from heatmark.export import export_onnx, onnx_session

    model, _, _, meta = load_model(weights(args))
    size = int(meta["input_size"])
    path = export_onnx(model, size, args.out, meta=meta)
    sess = onnx_session(model, size, path)
    x = torch.rand(8, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ref = model(x).numpy()
    diff = float(np.abs(sess.run(None, {"image": x.numpy()})[0] - ref).max())
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); max abs difference to torch on a batch of 8: {diff:.2e}; "
          f"Landmarker({str(path)!r}) runs it without torch")
    return 0
