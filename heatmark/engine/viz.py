"""Seeing inside a model: per-point heatmaps over the crop, first-layer filters, training curves, CED curves.

Plots use matplotlib on the headless Agg backend (``heatmark.engine.plots``); images are written as PNG.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from heatmark.engine.plots import _pyplot, _save, ced_plot
from heatmark.errors import DataError, HeatmarkError


def heatmaps(weights: str | Path, image: str | Path, out: Path, box=None, cols: int = 10) -> Path:
    """One face of ``image`` (the first detection, or ``box``): its crop with each point's heatmap overlaid,
    as a grid (heatmap models only)."""
    import torch

    from heatmark.api import Landmarker, as_rgb
    from heatmark.data.crops import crop_matrix, warp
    from heatmark.detect import crop_box_from_detection

    lm = Landmarker(weights, detector=None if box is not None else "mtcnn")
    if lm.codec is None or lm.codec.kind != "heatmap":
        raise HeatmarkError(f"{lm.weights}: viz heatmaps needs a heatmap model (.safetensors), not a "
                            f"{getattr(lm.codec, 'kind', 'onnx')} model")
    rgb = as_rgb(image)
    if box is None:
        boxes, _ = lm.detect(rgb)
        if len(boxes) == 0:
            raise HeatmarkError(f"{image}: no face found; give --box x1 y1 x2 y2")
        box, name = boxes[0], lm.detector.name
    else:
        name = None
    m = crop_matrix(crop_box_from_detection(box, name, lm.box_scale), lm.input_size)
    crop = warp(rgb, m, lm.input_size)
    with torch.inference_mode():
        x = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255
        heat = lm.model(x)[0].float().numpy()  # (K, h, w)
    k = len(heat)
    rows = int(np.ceil(k / cols))
    plt = _pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.3))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i < k:
            ax.imshow(crop)
            ax.imshow(heat[i], cmap="jet", alpha=0.5, extent=(0, lm.input_size, lm.input_size, 0),
                      vmin=0, vmax=max(float(heat[i].max()), 1e-6))
            ax.set_title(lm.scheme.names[i], fontsize=5)
    path = out / "heatmaps.png"
    _save(fig, path)
    return path


def first_layer_filters(weights: str | Path, out: Path) -> Path:
    """The first convolution's filters (RGB, each normalised to its own range) as a grid."""
    import torch

    from heatmark.checkpoint import load_model

    model, _, _, _ = load_model(weights)
    conv = next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)
    if conv is None:
        raise HeatmarkError(f"{weights}: the model has no convolution")
    w = conv.weight.detach().float().numpy()  # (O, I, kh, kw)
    w = w[:, :3] if w.shape[1] >= 3 else np.repeat(w[:, :1], 3, 1)
    lo, hi = w.min(axis=(1, 2, 3), keepdims=True), w.max(axis=(1, 2, 3), keepdims=True)
    w = ((w - lo) / np.maximum(hi - lo, 1e-9)).transpose(0, 2, 3, 1)
    cols = int(np.ceil(np.sqrt(len(w))))
    rows = int(np.ceil(len(w) / cols))
    plt = _pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.6, rows * 0.6))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i < len(w):
            ax.imshow(w[i], interpolation="nearest")
    fig.suptitle(f"first layer: {len(w)} filters {conv.kernel_size[0]}x{conv.kernel_size[1]}", fontsize=8)
    path = out / "filters.png"
    _save(fig, path)
    return path


def training_curves(run_dir: str | Path, out: Path) -> Path:
    """Training loss and validation NME per epoch from a run folder's ``metrics.jsonl``."""
    f = Path(run_dir) / "metrics.jsonl"
    if not f.is_file():
        raise DataError(f, "no metrics.jsonl in this run folder", "give a folder that heatmark train wrote")
    rows = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    if not rows:
        raise DataError(f, "metrics.jsonl is empty")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ep = [r["epoch"] for r in rows]
    ax.plot(ep, [r.get("train_loss", np.nan) for r in rows], "o-", label="train loss")
    ax.set(xlabel="epoch", ylabel="train loss", title=str(run_dir))
    if any("val_nme" in r for r in rows):
        ax2 = ax.twinx()
        ax2.plot(ep, [r.get("val_nme", np.nan) for r in rows], "s-", color="tab:red", label="val NME (%)")
        ax2.set_ylabel("validation NME (%)", color="tab:red")
    ax.grid(alpha=0.3)
    path = out / "curves.png"
    _save(fig, path)
    return path


def ced_of_results(results: list[str | Path], out: Path, threshold: float = 0.10) -> Path:
    """CED curves of several result JSONs (``heatmark eval --json`` or a grid's ``result.json``) on one plot."""
    curves = {}
    for r in results:
        p = Path(r)
        if not p.is_file():
            raise DataError(p, "result JSON not found")
        d = json.loads(p.read_text())
        per = d.get("per_image_nme") or (d.get("metrics") or {}).get("per_image_nme")
        if per is None:
            raise DataError(p, "no per_image_nme in this JSON", "write it with heatmark eval --json")
        curves[p.parent.name if p.name == "result.json" else p.stem] = np.asarray(per)
    path = out / "ced.png"
    ced_plot(curves, threshold, path, f"CED of NME ({len(curves)} results)")
    return path
