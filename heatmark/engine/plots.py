"""Report pictures drawn with OpenCV (no plotting library): CED curves and prediction grids."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from heatmark.data.image_io import write_image
from heatmark.data.visualize import draw_landmarks, make_grid
from heatmark.engine.metrics import auc, ced

PALETTE = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def ced_plot(curves: dict[str, np.ndarray], threshold: float, path: str | Path, title: str = "",
             size: tuple[int, int] = (640, 480)) -> None:
    """Cumulative error distribution of per-image NME (fractions) for each named set of errors."""
    w, h = size
    left, right, top, bottom = 60, 20, 40, 50
    img = np.full((h, w, 3), 255, np.uint8)
    pw, ph = w - left - right, h - top - bottom

    def xy(x, y):
        return int(left + x / threshold * pw), int(top + (1 - y) * ph)

    font = cv2.FONT_HERSHEY_SIMPLEX
    for i in range(6):  # grid and ticks
        gx = threshold * i / 5
        cv2.line(img, xy(gx, 0), xy(gx, 1), (225, 225, 225), 1)
        cv2.putText(img, f"{gx * 100:.0f}", (xy(gx, 0)[0] - 8, top + ph + 18), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        gy = i / 5
        cv2.line(img, xy(0, gy), xy(threshold, gy), (225, 225, 225), 1)
        cv2.putText(img, f"{gy:.1f}", (left - 35, xy(0, gy)[1] + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.rectangle(img, xy(0, 1), xy(threshold, 0), (0, 0, 0), 1)
    cv2.putText(img, "NME (%)", (left + pw // 2 - 30, h - 12), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, title or "Cumulative error distribution", (left, 25), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for i, (name, errors) in enumerate(curves.items()):
        x, y = ced(errors, threshold, 400)
        pts = np.array([xy(a, b) for a, b in zip(x, y)], np.int32)
        col = PALETTE[i % len(PALETTE)]
        cv2.polylines(img, [pts], False, col, 2, cv2.LINE_AA)
        label = f"{name}  AUC@{threshold:.2f} {auc(errors, threshold) * 100:.1f}"
        ly = top + 22 + 20 * i  # top-left: a CED curve never reaches there
        cv2.line(img, (left + 10, ly - 4), (left + 35, ly - 4), col, 3)
        cv2.putText(img, label, (left + 40, ly), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    write_image(path, img)


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
    w, h = size
    left, right, top, bottom = 70, 25, 58, 55  # title on the first line, the y label on the second
    pw, ph = w - left - right, h - top - bottom
    img = np.full((h, w, 3), 255, np.uint8)
    fx = (lambda v: np.log(v)) if log_x else (lambda v: v)
    xv = np.array([fx(x) for x in xs])
    means = np.array([np.mean(y) for y in ys])
    stds = np.array([np.std(y) if len(y) > 1 else 0.0 for y in ys])
    x0, x1 = xv.min(), xv.max() if xv.max() > xv.min() else xv.min() + 1
    y0, y1 = 0.0, float((means + stds).max() * 1.15)

    def px(x, y):
        return int(left + (x - x0) / (x1 - x0) * pw), int(top + (1 - (y - y0) / (y1 - y0)) * ph)

    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.rectangle(img, (left, top), (left + pw, top + ph), (0, 0, 0), 1)
    for i in range(6):
        yv = y0 + (y1 - y0) * i / 5
        cv2.line(img, px(x0, yv), px(x1, yv), (225, 225, 225), 1)
        cv2.putText(img, f"{yv:.1f}", (left - 45, px(x0, yv)[1] + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    every = max(1, int(np.ceil(len(xs) / 8)))  # at most ~8 tick labels, so they never overlap
    for x, v in list(zip(xs, xv))[::every]:
        cv2.putText(img, f"{x:g}", (px(v, y0)[0] - 10, top + ph + 18), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    pts = [px(v, m) for v, m in zip(xv, means)]
    cv2.polylines(img, [np.array(pts, np.int32)], False, PALETTE[0], 2, cv2.LINE_AA)
    for (x, y), s, v, m in zip(pts, stds, xv, means):
        cv2.circle(img, (x, y), 4 if len(xs) <= 20 else 2, PALETTE[0], -1, cv2.LINE_AA)
        if s > 0:
            cv2.line(img, px(v, m - s), px(v, m + s), PALETTE[1], 1, cv2.LINE_AA)
    cv2.putText(img, x_label, (left + pw // 2 - 60, h - 12), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, title, (5, 18), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, y_label, (5, top - 22), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    write_image(path, img)
