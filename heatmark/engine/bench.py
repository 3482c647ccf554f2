"""Micro-benchmarks: heatmap decoding and model size/speed. Timings are medians of repeated runs."""

from __future__ import annotations

import platform
import statistics
import time
from pathlib import Path

import torch

from heatmark.codecs import DECODERS, HeatmapCodec
from heatmark.models import BACKBONES, count_parameters, create_model


def _median_ms(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo`` on Linux), so that timings from different machines are not mixed up."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    return f"{cpu_name()} ({platform.machine()}), {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def bench_decode(batch: int = 32, points: int = 68, size: int = 64, sigma: float = 2.0, repeats: int = 30,
                 seed: int = 0) -> list[dict]:
    """Decode time per decoder for a (batch, points, size, size) batch of noisy Gaussian heatmaps."""
    g = torch.Generator().manual_seed(seed)
    codec = HeatmapCodec(input_size=size * 4, stride=4, sigma=sigma)
    pts = torch.rand(batch, points, 2, generator=g) * (size * 4 - 40) + 20
    heat, _ = codec.encode(pts)
    heat = heat + 0.01 * torch.randn(heat.shape, generator=g)
    rows = []
    with torch.inference_mode():
        for d in DECODERS:
            ms = _median_ms(lambda d=d: codec.decode(heat, d), repeats)
            err = ((codec.decode(heat, d)[0] - pts).norm(dim=-1) / 4).mean().item()
            rows.append({"decoder": d, "ms": ms, "error_heatmap_px": err})
    return rows


DEFAULT_MODELS = (
    *[("regression", b, {}) for b in BACKBONES],
    ("heatmap", "resnet18", {"arch": "unet", "stride": 4}),
    ("heatmap", "resnet18", {"arch": "unet", "stride": 1}),
    ("heatmap", "resnet18", {"arch": "fpn", "stride": 4}),
    ("heatmap", "mobilenetv2", {"arch": "fpn", "stride": 4}),
    ("heatmap", "mobilenetv3", {"arch": "fpn", "stride": 4}),
)


def bench_models(size: int = 128, batches: tuple[int, ...] = (1, 32), points: int = 68, repeats: int = 5,
                 models=DEFAULT_MODELS) -> list[dict]:
    """Parameters and CPU forward time (ms/image) for each model at ``size``² input."""
    rows = []
    for head, backbone, kw in models:
        torch.manual_seed(0)
        m = create_model(head, backbone, points, **kw).eval()
        row = {"head": head, "backbone": backbone, "options": ",".join(f"{k}={v}" for k, v in kw.items()),
               "params_m": count_parameters(m) / 1e6}
        with torch.inference_mode():
            for b in batches:
                x = torch.rand(b, 3, size, size)
                ms = _median_ms(lambda: m(x), repeats if b == 1 else max(2, repeats // 2), warmup=1)
                row[f"ms_per_image_b{b}"] = ms / b
        rows.append(row)
    return rows


def bench_speed(weights, batches: tuple[int, ...] = (1, 32), repeats: int = 20) -> list[dict]:
    """ms per face for the landmark stage (crop → network → decode → points), per backend and batch."""
    import numpy as np

    from heatmark.api import Landmarker

    rows = []
    params_m = float("nan")
    size_mb = Path(weights).stat().st_size / 1e6
    for backend in ("torch", "onnx"):
        try:
            lm = Landmarker(weights, detector=None, backend=backend)
        except Exception as e:  # onnxruntime missing: report, keep the torch rows
            rows.append({"backend": backend, "batch": "-", "ms_per_face": float("nan"), "params_m": float("nan"),
                         "file_mb": size_mb, "note": str(e)[:60]})
            continue
        s = lm.input_size
        for b in batches:
            crops = np.random.default_rng(0).integers(0, 255, (b, s, s, 3), dtype=np.uint8)
            ms = _median_ms(lambda: lm.run_crops(crops), repeats if b == 1 else max(3, repeats // 4))
            if lm.model is not None:  # the torch row counts them; the ONNX rows run the same network
                params_m = count_parameters(lm.model) / 1e6
            rows.append({"backend": backend, "batch": b, "ms_per_face": ms / b,
                         "params_m": params_m, "file_mb": size_mb, "note": ""})
    return rows
