"""Shape diversity from few faces: landmark-guided thin-plate-spline (TPS) warps.

:func:`random_shape` moves a face's landmarks to a new plausible shape: a face-width change along the eye
axis, a jaw-width change, a mouth opening, and smooth random displacements (a few Gaussian bumps). The
image follows by a TPS warp that takes each landmark exactly to its new place (:func:`tps_maps`,
:func:`warp_to`), anchored at the crop's border so the background barely moves. Vectorised NumPy + OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np


def _tps_kernel(r2: np.ndarray) -> np.ndarray:
    return np.where(r2 > 0, r2 * np.log(np.maximum(r2, 1e-12)), 0.0)


def tps_fit(src: np.ndarray, dst: np.ndarray, reg: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """TPS coefficients mapping ``src`` (N, 2) points onto ``dst`` (N, 2): (weights (N, 2), affine (3, 2))."""
    n = len(src)
    k = _tps_kernel(((src[:, None] - src[None]) ** 2).sum(-1)) + reg * np.eye(n)
    p = np.hstack([np.ones((n, 1)), src])
    a = np.zeros((n + 3, n + 3))
    a[:n, :n], a[:n, n:], a[n:, :n] = k, p, p.T
    b = np.zeros((n + 3, 2))
    b[:n] = dst
    sol = np.linalg.solve(a, b)
    return sol[:n], sol[n:]


def tps_apply(points: np.ndarray, src: np.ndarray, coef: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Map ``points`` (M, 2) with a TPS fitted on control points ``src``."""
    w, aff = coef
    u = _tps_kernel(((points[:, None] - src[None]) ** 2).sum(-1))
    return u @ w + np.hstack([np.ones((len(points), 1)), points]) @ aff


def border_anchors(size: int, per_side: int = 4) -> np.ndarray:
    t = np.linspace(0, size, per_side + 1)[:-1]
    z, s = np.zeros_like(t), np.full_like(t, size)
    return np.concatenate([np.stack([t, z], 1), np.stack([s, t], 1), np.stack([size - t, s], 1),
                           np.stack([z, size - t], 1)])


def tps_maps(src: np.ndarray, dst: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps (size × size, float32) for a warp that moves ``src`` points to ``dst`` (continuous
    pixel coordinates): each output pixel centre is looked up at the TPS image of it under dst → src."""
    anchors = border_anchors(size)
    s_all, d_all = np.vstack([src, anchors]), np.vstack([dst, anchors])
    coef = tps_fit(d_all, s_all)  # inverse map: output position -> input position
    ys, xs = np.mgrid[0:size, 0:size]
    grid = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], 1).astype(np.float64)
    look = tps_apply(grid, d_all, coef) - 0.5  # OpenCV indexes pixel centres at integers
    return look[:, 0].reshape(size, size).astype(np.float32), look[:, 1].reshape(size, size).astype(np.float32)


def warp_to(image: np.ndarray, maps: tuple[np.ndarray, np.ndarray], nearest: bool = False) -> np.ndarray:
    return cv2.remap(image, maps[0], maps[1], cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT_101)


def random_shape(points: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """A new shape for iBUG-68(+) ``points`` (K, 2): face width ±8 %, jaw width ±8 %, mouth opening up to 8 %
    of the face height, and smooth bumps up to ~3 % of the face size, each scaled by ``strength``."""
    p = np.asarray(points, np.float64)
    out = p.copy()
    centre = p.mean(0)
    e = p[45] - p[36]
    ex = e / max(np.linalg.norm(e), 1e-9)
    ey = np.array([-ex[1], ex[0]])
    face = float(np.linalg.norm(p.max(0) - p.min(0)))
    rel = p - centre
    u, v = rel @ ex, rel @ ey
    u = u * (1 + strength * rng.uniform(-0.08, 0.08))  # face width
    jaw = np.zeros(len(p), bool)
    jaw[:17] = True
    u = np.where(jaw, u * (1 + strength * rng.uniform(-0.08, 0.08)), u)  # jaw width
    out = centre + u[:, None] * ex + v[:, None] * ey
    lower_lip = np.r_[55:60, 64:68] if len(p) >= 68 else np.array([], int)
    out[lower_lip] += ey * strength * rng.uniform(0, 0.08) * face * 0.6  # mouth opening (lower lip down)
    for _ in range(3):  # smooth random bumps
        c = p[int(rng.integers(len(p)))]
        d = rng.normal(0, 1, 2)
        d *= strength * rng.uniform(0, 0.03) * face / max(np.linalg.norm(d), 1e-9)
        out += d * np.exp(-((p - c) ** 2).sum(1) / (2 * (0.2 * face) ** 2))[:, None]
    return out
