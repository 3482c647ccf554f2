"""Heatmap decoders: (B, K, H, W) heatmaps → (B, K, 2) points in *heatmap* coordinates + (B, K) scores.

Heatmap coordinates follow heatmark's convention: the centre of heatmap pixel (i, j) is (j + 0.5, i + 0.5).
Everything is batched over B·K maps; no Python loop over points. The sub-pixel decoders look only at a
small window around each peak, gathered with one index tensor, so their cost is that of the argmax.

- ``argmax``: the peak pixel's centre.
- ``quarter``: argmax + 0.25 px towards the higher neighbour on each axis (Newell et al., 2016).
- ``dark``: second-order Taylor expansion of the log of the (Gaussian-smoothed) heatmap at the peak
  (Zhang et al., "Distribution-Aware Coordinate Representation", CVPR 2020).
- ``soft_argmax``: expectation of softmax(beta · H) over the whole map (differentiable).
- ``local_soft_argmax``: the same in a (2r+1)² window around the peak (integral regression, local).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _peaks(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B,K,H,W) → max values (B,K), integer x and y (B,K) of the argmax."""
    b, k, h, w = heatmaps.shape
    vals, idx = heatmaps.reshape(b, k, h * w).max(dim=-1)
    return vals, idx % w, torch.div(idx, w, rounding_mode="floor")


def _window(heatmaps: torch.Tensor, x: torch.Tensor, y: torch.Tensor, r: int) -> torch.Tensor:
    """Gather (B, K, 2r+1, 2r+1) windows centred on integer (x, y). Indices are clamped, so positions
    outside the map repeat the border; callers mask them (:func:`_inside`) where that matters."""
    b, k, h, w = heatmaps.shape
    d = torch.arange(-r, r + 1, device=heatmaps.device)
    yy = (y[..., None] + d).clamp_(0, h - 1)  # (B,K,P)
    xx = (x[..., None] + d).clamp_(0, w - 1)
    flat = (yy[..., :, None] * w + xx[..., None, :]).reshape(b, k, -1)
    return heatmaps.reshape(b, k, h * w).gather(-1, flat).reshape(b, k, 2 * r + 1, 2 * r + 1)


def _inside(x: torch.Tensor, y: torch.Tensor, r: int, h: int, w: int) -> torch.Tensor:
    """(B, K, 2r+1, 2r+1) mask of the window positions that lie inside an h × w map."""
    d = torch.arange(-r, r + 1, device=x.device)
    yy, xx = y[..., None] + d, x[..., None] + d
    return ((yy >= 0) & (yy < h))[..., :, None] & ((xx >= 0) & (xx < w))[..., None, :]


def _fits(x: torch.Tensor, y: torch.Tensor, r: int, h: int, w: int) -> torch.Tensor:
    """(B, K) True where the whole (2r+1)² window around (x, y) lies inside the map."""
    return (x >= r) & (x < w - r) & (y >= r) & (y < h - r)


def decode_argmax(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    vals, x, y = _peaks(heatmaps)
    return torch.stack([x, y], -1).to(heatmaps.dtype) + 0.5, vals


def decode_quarter(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    vals, x, y = _peaks(heatmaps)
    win = _window(heatmaps, x, y, 1) * _inside(x, y, 1, *heatmaps.shape[-2:])  # zero beyond the border
    dx = torch.sign(win[..., 1, 2] - win[..., 1, 0])
    dy = torch.sign(win[..., 2, 1] - win[..., 0, 1])
    pts = torch.stack([x + 0.25 * dx + 0.5, y + 0.25 * dy + 0.5], -1)
    return pts.to(heatmaps.dtype), vals


def _smoothing_matrix(sigma: float, radius: int, device, dtype) -> torch.Tensor:
    """(9, P²) matrix: a (P, P) window, P = 2·radius + 3, → its Gaussian-smoothed central 3×3 values."""
    t = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g2 = torch.outer(g, g) / g.sum() ** 2
    rows = [F.pad(g2, (j, 2 - j, i, 2 - i)).reshape(-1) for i in range(3) for j in range(3)]
    return torch.stack(rows)


def _taylor_offset(win3: torch.Tensor, max_offset: float) -> torch.Tensor:
    """Newton step ``-H⁻¹∇`` of log(win3) at the centre of (B, K, 3, 3) windows → (B, K, 2) offsets.

    Offsets where the Hessian is not negative definite (flat or noisy peaks) are 0."""
    lg = torch.log(win3.clamp(min=1e-10))
    dx = 0.5 * (lg[..., 1, 2] - lg[..., 1, 0])
    dy = 0.5 * (lg[..., 2, 1] - lg[..., 0, 1])
    dxx = lg[..., 1, 2] - 2 * lg[..., 1, 1] + lg[..., 1, 0]
    dyy = lg[..., 2, 1] - 2 * lg[..., 1, 1] + lg[..., 0, 1]
    dxy = 0.25 * (lg[..., 2, 2] - lg[..., 2, 0] - lg[..., 0, 2] + lg[..., 0, 0])
    det = dxx * dyy - dxy**2
    ok = (det > 1e-6) & (dxx < 0)
    safe = torch.where(ok, det, torch.ones_like(det))
    off = torch.stack([-(dyy * dx - dxy * dy) / safe, -(dxx * dy - dxy * dx) / safe], -1)
    return (off * ok[..., None]).clamp(-max_offset, max_offset)


def decode_dark(heatmaps: torch.Tensor, sigma: float = 2.0, smooth: bool = True,
                max_offset: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """DARK: peak + offset ``-H⁻¹∇`` of log(smoothed heatmap) at the peak.

    ``sigma`` should be the training target's sigma in heatmap pixels (the paper's smoothing kernel). Only
    a window around each peak is smoothed. Near the border, where that window would leave the map (the
    paper zero-pads, which pulls such peaks inwards), the raw 3×3 neighbourhood is used instead (exact for
    a Gaussian), and a peak on the outermost pixel row/column keeps its argmax. Offsets are clipped to
    ±``max_offset`` heatmap pixels.
    """
    vals, x, y = _peaks(heatmaps)
    b, k, h, w = heatmaps.shape
    r = max(1, int(math.ceil(3 * sigma))) if smooth else 0
    win = _window(heatmaps, x, y, r + 1).float()  # (B,K,P,P), P = 2r+3
    off = _taylor_offset(win[..., r:r + 3, r:r + 3], max_offset)
    if smooth:
        sm = (win.reshape(b, k, -1) @ _smoothing_matrix(sigma, r, win.device, win.dtype).T).reshape(b, k, 3, 3)
        off = torch.where(_fits(x, y, r + 1, h, w)[..., None], _taylor_offset(sm, max_offset), off)
    off = off * _fits(x, y, 1, h, w)[..., None]  # a peak on the outermost pixels keeps its argmax
    pts = torch.stack([x, y], -1).to(off.dtype) + 0.5 + off
    return pts.to(heatmaps.dtype), vals


def _grid(n: int, device, dtype) -> torch.Tensor:
    return torch.arange(n, device=device, dtype=dtype) + 0.5


def decode_soft_argmax(heatmaps: torch.Tensor, beta: float = 20.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Global soft-argmax: E[(x, y)] under softmax(beta · H). Differentiable; the score is max(H)."""
    b, k, h, w = heatmaps.shape
    p = torch.softmax(beta * heatmaps.reshape(b, k, h * w), dim=-1).reshape(b, k, h, w)
    x = (p.sum(2) * _grid(w, heatmaps.device, p.dtype)).sum(-1)
    y = (p.sum(3) * _grid(h, heatmaps.device, p.dtype)).sum(-1)
    return torch.stack([x, y], -1), heatmaps.reshape(b, k, -1).amax(-1)


def decode_local_soft_argmax(heatmaps: torch.Tensor, radius: int = 2,
                             beta: float = 20.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft-argmax inside a (2r+1)² window around the peak (local integral regression).

    Differentiable with respect to the window's values; the window position itself comes from the argmax.
    Positions outside the map get no weight.
    """
    vals, x, y = _peaks(heatmaps)
    b, k, h, w = heatmaps.shape
    win = _window(heatmaps, x, y, radius)
    inside = _inside(x, y, radius, h, w)
    d = torch.arange(-radius, radius + 1, device=heatmaps.device)
    xs = (x[..., None] + d).to(win.dtype) + 0.5  # (B,K,P)
    ys = (y[..., None] + d).to(win.dtype) + 0.5
    logits = (beta * win).masked_fill(~inside, float("-inf"))
    p = torch.softmax(logits.reshape(b, k, -1), -1).reshape(win.shape)
    px = (p.sum(-2) * xs).sum(-1)
    py = (p.sum(-1) * ys).sum(-1)
    return torch.stack([px, py], -1), vals


# The one decoder registry: name -> (function, the codec attributes it takes as keyword arguments).
DECODERS: dict[str, tuple] = {
    "argmax": (decode_argmax, ()),
    "quarter": (decode_quarter, ()),
    "dark": (decode_dark, ("sigma",)),
    "soft_argmax": (decode_soft_argmax, ("beta",)),
    "local_soft_argmax": (decode_local_soft_argmax, ("radius", "beta")),
}


def decode(heatmaps: torch.Tensor, method: str = "dark", **kw) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode with the registered decoder ``method``; ``kw``: its parameters (sigma, beta, radius)."""
    if method not in DECODERS:
        from heatmark.errors import ConfigError

        raise ConfigError(f"unknown heatmap decoder {method!r}; valid: {list(DECODERS)}")
    return DECODERS[method][0](heatmaps, **kw)
