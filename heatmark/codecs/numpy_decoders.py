"""The heatmap decoders of :mod:`heatmark.codecs.decoders` in NumPy, for inference without torch.

Same conventions and results (``tests/test_numpy_decoders.py`` checks them against the torch versions): input
(B, K, H, W) heatmaps, output (B, K, 2) points in heatmap coordinates (the centre of heatmap pixel (i, j) is
(j + 0.5, i + 0.5)) and (B, K) scores. Vectorised over B·K maps; only a window around each peak is read.
"""

from __future__ import annotations

import functools
import math

import numpy as np


def _peaks(hm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b, k, h, w = hm.shape
    flat = np.ascontiguousarray(hm).reshape(b * k, h * w)
    idx = flat.argmax(-1)
    vals = flat.reshape(-1).take(idx + np.arange(b * k) * (h * w))  # one flat take: a third of take_along_axis
    idx = idx.reshape(b, k)
    return vals.reshape(b, k), idx % w, idx // w


def _window(hm: np.ndarray, x: np.ndarray, y: np.ndarray, r: int) -> np.ndarray:
    """(B, K, 2r+1, 2r+1): each map's values around (x, y), indices clamped at the border (one flat ``take``:
    half the time of ``take_along_axis`` for 68 maps)."""
    b, k, h, w = hm.shape
    d = np.arange(-r, r + 1)
    yy = np.minimum(np.maximum(y[..., None] + d, 0), h - 1)
    xx = np.minimum(np.maximum(x[..., None] + d, 0), w - 1)
    flat = yy[..., :, None] * w + xx[..., None, :] + (np.arange(b * k) * (h * w)).reshape(b, k, 1, 1)
    return np.ascontiguousarray(hm).reshape(-1).take(flat)


def _inside(x: np.ndarray, y: np.ndarray, r: int, h: int, w: int) -> np.ndarray:
    d = np.arange(-r, r + 1)
    yy, xx = y[..., None] + d, x[..., None] + d
    return ((yy >= 0) & (yy < h))[..., :, None] & ((xx >= 0) & (xx < w))[..., None, :]


def _fits(x: np.ndarray, y: np.ndarray, r: int, h: int, w: int) -> np.ndarray:
    return (x >= r) & (x < w - r) & (y >= r) & (y < h - r)


def decode_argmax(hm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vals, x, y = _peaks(hm)
    return np.stack([x, y], -1).astype(hm.dtype) + 0.5, vals


def decode_quarter(hm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vals, x, y = _peaks(hm)
    win = _window(hm, x, y, 1) * _inside(x, y, 1, *hm.shape[-2:])
    dx = np.sign(win[..., 1, 2] - win[..., 1, 0])
    dy = np.sign(win[..., 2, 1] - win[..., 0, 1])
    return np.stack([x + 0.25 * dx + 0.5, y + 0.25 * dy + 0.5], -1).astype(hm.dtype), vals


@functools.lru_cache(maxsize=16)
def _smoothing_matrix(sigma: float, radius: int) -> np.ndarray:
    """(9, (2r+3)²): the Gaussian-smoothed 3×3 neighbourhood of a window's centre as one matrix product (built
    once per sigma and radius; read-only)."""
    t = np.arange(-radius, radius + 1, dtype=np.float32)
    g = np.exp(-(t**2) / (2 * sigma**2))
    g2 = np.outer(g, g) / g.sum() ** 2
    out = np.stack([np.pad(g2, ((i, 2 - i), (j, 2 - j))).reshape(-1) for i in range(3) for j in range(3)])
    out.setflags(write=False)
    return out


# rows of the 3×3 neighbourhood (flattened) → its central differences dx, dy, dxx, dyy, dxy as one matrix product
_DERIVATIVES = np.array([
    [0, 0, 0, 0, 0.25], [0, -0.5, 0, 1, 0], [0, 0, 0, 0, -0.25],
    [-0.5, 0, 1, 0, 0], [0, 0, -2, -2, 0], [0.5, 0, 1, 0, 0],
    [0, 0, 0, 0, -0.25], [0, 0.5, 0, 1, 0], [0, 0, 0, 0, 0.25]], np.float32)
_DERIVATIVES.setflags(write=False)


def _taylor_offset(win3: np.ndarray, max_offset: float) -> np.ndarray:
    """Second-order Taylor step on the log of each (..., 3, 3) neighbourhood: the offset of the peak from its
    centre, clipped to ``max_offset``; zero where the log is not concave there."""
    lg = np.log(np.maximum(win3.reshape(*win3.shape[:-2], 9), 1e-10))
    dx, dy, dxx, dyy, dxy = np.moveaxis(lg @ _DERIVATIVES.astype(lg.dtype, copy=False), -1, 0)
    det = dxx * dyy - dxy**2
    ok = (det > 1e-6) & (dxx < 0)
    scale = ok / np.where(ok, det, 1.0)  # 1 / det where the step is taken, else 0
    off = np.stack([(dxy * dy - dyy * dx) * scale, (dxy * dx - dxx * dy) * scale], -1)
    return np.minimum(np.maximum(off, -max_offset), max_offset)  # np.clip: ~5 µs more per call


def decode_dark(hm: np.ndarray, sigma: float = 2.0, smooth: bool = True,
                max_offset: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    vals, x, y = _peaks(hm)
    b, k, h, w = hm.shape
    r = max(1, int(math.ceil(3 * sigma))) if smooth else 0
    win = _window(hm, x, y, r + 1).astype(np.float32)
    if smooth:
        sm = (win.reshape(b, k, -1) @ _smoothing_matrix(sigma, r).T).reshape(b, k, 3, 3)
        fits = _fits(x, y, r + 1, h, w)
        if not fits.all():  # peaks near the border: the unsmoothed 3x3 neighbourhood there (as the torch decoder)
            sm = np.where(fits[..., None, None], sm, win[..., r:r + 3, r:r + 3])
        off = _taylor_offset(sm, max_offset)
    else:
        off = _taylor_offset(win[..., r:r + 3, r:r + 3], max_offset)
    off = off * _fits(x, y, 1, h, w)[..., None]
    pts = np.stack([x, y], -1).astype(off.dtype) + 0.5 + off
    return pts.astype(hm.dtype), vals


def _softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = z - z.max(axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis, keepdims=True)


def decode_soft_argmax(hm: np.ndarray, beta: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    b, k, h, w = hm.shape
    p = _softmax(beta * hm.reshape(b, k, h * w)).reshape(b, k, h, w)
    x = (p.sum(2) * (np.arange(w) + 0.5)).sum(-1)
    y = (p.sum(3) * (np.arange(h) + 0.5)).sum(-1)
    return np.stack([x, y], -1).astype(hm.dtype), hm.reshape(b, k, -1).max(-1)


def decode_local_soft_argmax(hm: np.ndarray, radius: int = 2, beta: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    vals, x, y = _peaks(hm)
    b, k, h, w = hm.shape
    win = _window(hm, x, y, radius)
    inside = _inside(x, y, radius, h, w)
    d = np.arange(-radius, radius + 1)
    xs = (x[..., None] + d).astype(win.dtype) + 0.5
    ys = (y[..., None] + d).astype(win.dtype) + 0.5
    logits = np.where(inside, beta * win, -np.inf)
    p = _softmax(logits.reshape(b, k, -1)).reshape(win.shape)
    return np.stack([(p.sum(-2) * xs).sum(-1), (p.sum(-1) * ys).sum(-1)], -1), vals


def check_pip_decoder(method: str | None) -> None:
    """A pip model decodes with its own offsets: refuse a heatmap decoder name (shared by the torch codec)."""
    if method not in (None, "pip"):
        from heatmark.errors import ConfigError

        raise ConfigError(f"decoder {method!r}: a pip model decodes with its own offsets; heatmap decoders "
                          "(argmax, dark, ...) apply to heatmap models")


def decode_pip(output: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-in-pixel output (N, 3K, h, w) → points (N, K, 2) in input pixels, scores (N, K): the best cell of
    each score map plus the offsets predicted there (as :meth:`heatmark.codecs.pip.PipCodec.decode`)."""
    n, c3, h, w = output.shape
    k = c3 // 3
    flat = np.ascontiguousarray(output).reshape(n, 3, k, h * w)  # score maps, x offsets, y offsets
    idx = flat[:, 0].argmax(-1)  # (N, K): each point's best cell
    rows = np.arange(n * 3 * k).reshape(n, 3, k) * (h * w)
    score, ox, oy = flat.reshape(-1).take(rows + idx[:, None, :]).transpose(1, 0, 2)  # one read of the 3 values
    return np.stack([(idx % w + 0.5 + ox) * stride, (idx // w + 0.5 + oy) * stride], -1), score


DECODERS: dict[str, tuple] = {  # name -> (function, the codec parameters it takes), as in codecs.decoders
    "argmax": (decode_argmax, ()),
    "quarter": (decode_quarter, ()),
    "dark": (decode_dark, ("sigma",)),
    "soft_argmax": (decode_soft_argmax, ("beta",)),
    "local_soft_argmax": (decode_local_soft_argmax, ("radius", "beta")),
}


class NumpyCodec:
    """Decoding of a network's output (heatmaps, pixel-in-pixel maps or normalised coordinates) to crop pixels,
    from a weights file's codec description (``meta["codec"]``) — what :class:`~heatmark.codecs.HeatmapCodec`,
    :class:`~heatmark.codecs.pip.PipCodec` and :class:`~heatmark.codecs.RegressionCodec` do at decode time,
    without torch."""

    def __init__(self, codec: dict, input_size: int):
        self.kind = codec.get("kind", "heatmap")
        self.input_size = int(input_size)
        self.stride = int(codec.get("stride", 4))
        self.params = {"sigma": float(codec.get("sigma", 2.0)), "beta": float(codec.get("beta", 20.0)),
                       "radius": int(codec.get("radius", 2))}
        self.decoder = codec.get("decoder", "dark")
        self.point_offset = codec.get("point_offset")

    def decode(self, output: np.ndarray, method: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "regression":
            return output * self.input_size, np.ones(output.shape[:-1], output.dtype)
        if self.kind == "pip":
            check_pip_decoder(method)
            return decode_pip(output, self.stride)
        method = method or self.decoder
        if method not in DECODERS:
            from heatmark.errors import ConfigError

            raise ConfigError(f"unknown heatmap decoder {method!r}; valid: {list(DECODERS)}")
        fn, names = DECODERS[method]
        pts, scores = fn(output, **{n: self.params[n] for n in names})
        return pts * self.stride, scores
