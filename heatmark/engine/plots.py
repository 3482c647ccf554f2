"""Report pictures: CED curves and line plots with matplotlib (headless Agg backend), prediction grids with
OpenCV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from heatmark.data.image_io import write_image
from heatmark.data.visualize import draw_landmarks, make_grid
from heatmark.engine.metrics import auc, ced


def _pyplot():
    """matplotlib's pyplot on the headless Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path, tight: bool = False) -> None:
    """Write ``fig`` at figsize × 100 dpi (the requested pixel size), or ``tight``: grown to fit a legend
    placed outside the axes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight" if tight else None)
    _pyplot().close(fig)


def ced_plot(curves: dict[str, np.ndarray], threshold: float, path: str | Path, title: str = "",
             size: tuple[int, int] = (640, 480)) -> None:
    """Cumulative error distribution of per-image NME (fractions) for each named set of errors."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(size[0] / 100, size[1] / 100))
    for name, errors in curves.items():
        x, y = ced(errors, threshold, 400)
        ax.plot(x * 100, y, lw=2, label=f"{name}  AUC@{threshold:.2f} {auc(errors, threshold) * 100:.1f}")
    ax.set(xlim=(0, threshold * 100), ylim=(0, 1), xlabel="NME (%)", ylabel="share of images",
           title=title or "Cumulative error distribution")
    ax.grid(alpha=0.3)
    # below the axes: long run names would cover the curves anywhere inside them
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.13), fontsize=8, frameon=False)
    _save(fig, path, tight=True)


def prediction_grid(images: list[np.ndarray], preds: list[np.ndarray], gts: list[np.ndarray], scheme,
                    captions: list[str], path: str | Path, tile: int = 192) -> None:
    """Crops around each face: ground truth in green, prediction in red."""
    from heatmark.data.crops import box_from_landmarks, crop_face, transform_points

    tiles = []
    for img, p, g in zip(images, preds, gts):
        crop, m = crop_face(img, box_from_landmarks(g, 1.4), tile)
        t = draw_landmarks(crop, transform_points(m, g), scheme, colours=[(40, 200, 60)])
        t = draw_landmarks(t, transform_points(m, p), scheme, colours=[(230, 40, 40)])
        tiles.append(t)
    write_image(path, make_grid(tiles, ncols=min(6, len(tiles)), captions=captions))


def line_plot(xs: list[float], ys: list[list[float]], path: str | Path, x_label: str, y_label: str, title: str = "",
              size: tuple[int, int] = (640, 420), log_x: bool = True) -> None:
    """Mean ± std (error bars) of ``ys[i]`` at ``xs[i]``; x on a log scale by default (``log_x=False`` for
    axes that start at 0, such as a percentage)."""
    if log_x and min(xs) <= 0:
        raise ValueError(f"line_plot({Path(path).name}): a log x axis needs x > 0, got {min(xs):g}; "
                         "pass log_x=False (in a benchmark grid: x_log: false in the study)")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(size[0] / 100, size[1] / 100))
    means = [float(np.mean(y)) for y in ys]
    stds = [float(np.std(y)) if len(y) > 1 else 0.0 for y in ys]
    ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, lw=2)
    if log_x:
        ax.set_xscale("log")
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
    ax.set(xlabel=x_label, ylabel=y_label, title=title, ylim=(0, max(m + s for m, s in zip(means, stds)) * 1.15))
    ax.grid(alpha=0.3)
    _save(fig, path)


def curves_plot(series: dict[str, tuple[list[float], list[float]]], path: str | Path, x_label: str, y_label: str,
                title: str = "", size: tuple[int, int] = (720, 440), y_max: float | None = None) -> None:
    """One line per named ``(xs, ys)`` series (e.g. validation curves of several runs); ``y_max`` cuts the
    y axis (the first steps of a training from scratch would squash the rest)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(size[0] / 100, size[1] / 100))
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, lw=1.5, label=name)
    ax.set(xlabel=x_label, ylabel=y_label, title=title)
    if y_max is not None:
        ax.set_ylim(top=y_max)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def _is_candidate(row: dict) -> bool:
    """A frontier row of an unshipped model (``engine.speed.candidate_entry`` names them "NAME (candidate)")."""
    return row["model"].endswith("(candidate)")


def frontier_title(rows: list[dict]) -> str:
    """The frontier's title: it names the candidates (unshipped models) when any are on it."""
    with_candidates = any(_is_candidate(r) for r in rows)
    return "Speed–accuracy frontier of the shipped models" + (" and candidates" if with_candidates else "")


def frontier_plot(rows: list[dict], dlib_ms: float, path: str | Path, size: tuple[int, int] = (860, 440)) -> None:
    """AFW NME against ms per face for each shipped model (``rows`` of ``engine.speed.frontier``), with dlib's
    shape predictor's ms per face as a vertical line (its accuracy is not on this axis: it was trained on AFW)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(size[0] / 100, size[1] / 100))
    x_max = max([dlib_ms] + [r["ms_per_face"] for r in rows]) * 1.3
    y_max = max(r["nme"] for r in rows) * 1.2
    for i, r in enumerate(rows):  # a legend rather than labels beside the points: close points' labels overlapped
        colour = f"C{i % 10}"
        ax.scatter(r["ms_per_face"], r["nme"], s=60, marker="o" if r.get("real_labels", True) else "s",
                   facecolors="none" if _is_candidate(r) else colour, edgecolors=colour, linewidths=1.5,
                   label=f"{r['model']} ({r['params_m']:.1f} M params)")
    ax.axvline(dlib_ms, color="grey", ls="--", lw=1)
    ax.annotate("dlib shape predictor", (dlib_ms, 0.02), xycoords=("data", "axes fraction"), rotation=90,
                textcoords="offset points", xytext=(4, 0), fontsize=8, color="grey")
    ax.set(xlabel="ms per face (batch 1, as Landmarker runs it)", ylabel="AFW NME % (ground-truth boxes)",
           title=frontier_title(rows),
           xlim=(0, x_max), ylim=(0, y_max))
    ax.grid(alpha=0.3)
    # beside the axes: inside, a legend of many candidates covered points (default's, in one run)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    _save(fig, path, tight=True)
