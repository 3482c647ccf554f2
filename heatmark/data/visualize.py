"""Drawing landmarks and sample grids (OpenCV only, no plotting library).

Colours make flips checkable at a glance: the first point of each flip pair (the subject's right
side, which appears on the image's *left*) is red, its partner green, unpaired points yellow.
"""

from __future__ import annotations

import cv2
import numpy as np

from heatmark.data.schemes import Scheme

RED, GREEN, YELLOW, CYAN = (230, 40, 40), (40, 200, 60), (250, 220, 0), (0, 200, 255)


def point_colours(scheme: Scheme) -> list[tuple[int, int, int]]:
    cols = [YELLOW] * scheme.num_points
    for a, b in scheme.flip_pairs:
        cols[a], cols[b] = RED, GREEN
    return cols


def draw_landmarks(image: np.ndarray, points: np.ndarray, scheme: Scheme, radius: int | None = None,
                   colours: list | None = None, visible: np.ndarray | None = None) -> np.ndarray:
    """Draw points on a copy of an RGB image; hidden points (visible False) as hollow circles."""
    out = np.ascontiguousarray(image.copy())
    h, w = out.shape[:2]
    r = radius if radius is not None else max(1, round(min(h, w) / 110))
    cols = colours or point_colours(scheme)
    shift = 4  # sub-pixel drawing: cv2 takes fixed-point coordinates
    for i, (x, y) in enumerate(np.asarray(points, dtype=np.float64)):
        if not np.isfinite([x, y]).all():
            continue
        # continuous coords → OpenCV pixel-centre coords
        c = (int(round((x - 0.5) * (1 << shift))), int(round((y - 0.5) * (1 << shift))))
        filled = visible is None or bool(visible[i])
        cv2.circle(out, c, r << shift, cols[i % len(cols)], -1 if filled else 1, cv2.LINE_AA, shift)
    return out


def make_grid(images: list[np.ndarray], ncols: int = 4, pad: int = 4, captions: list[str] | None = None) -> np.ndarray:
    """Tile equally-sized RGB images into a grid, with optional captions."""
    h, w = images[0].shape[:2]
    n = len(images)
    ncols = min(ncols, n)
    nrows = (n + ncols - 1) // ncols
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y:y + h, x:x + w] = im
        if captions:
            scale = max(0.3, w / 500)
            cv2.putText(grid, captions[i][:32], (x + 3, y + h - 5), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3,
                        cv2.LINE_AA)
            cv2.putText(grid, captions[i][:32], (x + 3, y + h - 5), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (255, 255, 255), 1, cv2.LINE_AA)
    return grid
