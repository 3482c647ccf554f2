"""Network-only CPU speed of candidate heatmap and pixel-in-pixel architectures (random weights), through
onnxruntime.

Used to pick the shipped models' network: the accuracy of a candidate comes from training it, its speed from
here. Prints one line per candidate: parameters, ms per face at batch 1 (median of --repeats runs).

    python tools/probe_arch_speed.py --threads 1 --repeats 200
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

# `default`'s network (slim decoder, trimmed encoder) and its variant with a separable decoder and a 1x1 head
TRIMMED = {"decoder_channels": [128, 64, 32, 16, 8], "trim_encoder": True}
SEPARABLE = {**TRIMMED, "separable_decoder": True, "head_kernel": 1}
CANDIDATES = {
    "unet-resnet18 s128": ("resnet18", 128, {}),
    "unet-mobilenet_v2 slim s128 (default stage 1)": ("mobilenet_v2", 128, {"decoder_channels": [128, 64, 32, 16, 8]}),
    "unet-mobilenet_v2 slim trimmed s160 (default)": ("mobilenet_v2", 160, TRIMMED),
    "unet-mobilenet_v2 slim trimmed s160 1x1 head": ("mobilenet_v2", 160, {**TRIMMED, "head_kernel": 1}),
    "unet-mobilenet_v2 slim trimmed s160 separable": ("mobilenet_v2", 160, {**TRIMMED, "separable_decoder": True}),
    "unet-mobilenet_v2 slim trimmed s160 separable 1x1 head": ("mobilenet_v2", 160, SEPARABLE),
    "unet-mobilenet_v2 slim trimmed s128 separable 1x1 head": ("mobilenet_v2", 128, SEPARABLE),
    "unet-mobilenet_v2 slim trimmed s128 (trim128)": ("mobilenet_v2", 128, TRIMMED),
    "unet-mobilenet_v2 slimmer s128": ("mobilenet_v2", 128, {"decoder_channels": [64, 32, 24, 16, 8]}),
    # timm's MobileNetV2 ends at the 320-channel block (no 1x1 conv to 1280 feeding the first decoder block)
    "unet-tu-mobilenetv2_100 slim s128": ("tu-mobilenetv2_100", 128, {"decoder_channels": [128, 64, 32, 16, 8]}),
    "unet-mobilenet_v2 slim s96": ("mobilenet_v2", 96, {"decoder_channels": [128, 64, 32, 16, 8]}),
    "unet-resnet18 s96": ("resnet18", 96, {}),
    "unet-resnet18 slim s128": ("resnet18", 128, {"decoder_channels": [128, 64, 32, 16, 8]}),
    "unet-mobilenetv3_large s128": ("tu-mobilenetv3_large_100", 128, {"decoder_channels": [128, 64, 32, 16, 8]}),
    "unet-mobilenetv3_small s128": ("tu-mobilenetv3_small_100", 128, {"decoder_channels": [64, 32, 24, 16, 8]}),
    "unet-lcnet_100 s128": ("tu-lcnet_100", 128, {"decoder_channels": [128, 64, 32, 16, 8]}),
    "unet-resnet10t s128": ("tu-resnet10t", 128, {"decoder_channels": [128, 64, 32, 16, 8]}),
    # pixel-in-pixel heads (no decoder): a score and x/y offsets per cell of the encoder's grid
    "pip-mobilenetv3_small stride16 h128 s128": ("tu-mobilenetv3_small_100", 128,
                                                 {"head": "pip", "stride": 16, "head_channels": 128}),
    "pip-mobilenet_v2 stride16 h128 s128": ("mobilenet_v2", 128, {"head": "pip", "stride": 16, "head_channels": 128}),
    "pip-mobilenetv3_small stride16 h128 s192 (fast)": ("tu-mobilenetv3_small_100", 192,
                                                        {"head": "pip", "stride": 16, "head_channels": 128}),
    "pip-mobilenetv3_large stride16 h128 s160": ("tu-mobilenetv3_large_100", 160,
                                                 {"head": "pip", "stride": 16, "head_channels": 128}),
    "pip-mobilenetv3_large stride16 h128 s192": ("tu-mobilenetv3_large_100", 192,
                                                 {"head": "pip", "stride": 16, "head_channels": 128}),
    "pip-mobilenet_v2 stride16 h128 s160": ("mobilenet_v2", 160, {"head": "pip", "stride": 16, "head_channels": 128}),
    "pip-lcnet_100 stride16 h128 s192": ("tu-lcnet_100", 192, {"head": "pip", "stride": 16, "head_channels": 128}),
    "pip-mobilenetv3_small stride8 h128 s160": ("tu-mobilenetv3_small_100", 160,
                                                {"head": "pip", "stride": 8, "head_channels": 128}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--only", nargs="*", default=None, help="substrings of candidate names")
    ap.add_argument("--int8", action="store_true", help="time the int8 QDQ file (as shipped; calibrated on random "
                    "crops, which moves the scales but not the work) instead of the float32 one")
    args = ap.parse_args()
    import os

    from heatmark.export import export_onnx
    from heatmark.models import create_model
    from heatmark.onnx_runtime import open_session
    from heatmark.quantize import quantize_int8

    print(f"# load average {os.getloadavg()[0]:.2f}, onnxruntime threads {args.threads}, "
          f"{'int8' if args.int8 else 'float32'}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (backbone, size, opts) in CANDIDATES.items():
            if args.only and not any(o in name for o in args.only):
                continue
            try:
                opts = dict(opts)
                head = opts.pop("head", "heatmap")
                model = create_model(head, backbone, 68, **({"stride": 4} if head == "heatmap" else {}), **opts)
            except Exception as e:  # noqa: BLE001 - a probe: report and go on
                print(f"{name:50s} cannot build: {e}")
                continue
            params = sum(p.numel() for p in model.parameters()) / 1e6
            path = export_onnx(model, size, Path(tmp) / "m.onnx")
            if args.int8:
                crops = np.random.default_rng(0).integers(0, 256, (16, size, size, 3), dtype=np.uint8)
                path = quantize_int8(path, Path(tmp) / "m.int8.onnx", crops)
            sess = open_session(path, args.threads)
            x = np.random.rand(1, 3, size, size).astype(np.float32)
            for _ in range(20):
                sess.run(None, {"image": x})
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                sess.run(None, {"image": x})
                times.append(time.perf_counter() - t)
            print(f"{name:50s} {params:6.2f} M params  {1000 * np.median(times):6.2f} ms/face")


if __name__ == "__main__":
    main()
