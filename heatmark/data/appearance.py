"""Appearance randomisation for synthetic faces, guided by their segmentation masks. Colour only: no pixel
moves, so the landmarks stay exactly where they were.

- :func:`part_colours`: per-part colour changes (skin tone, hair, lips, eyes, clothing and accessories), each
  part with its own random hue/saturation/value change, blended through a feathered part mask;
- :func:`shading`: a random directional light (a brightness gradient) and a soft light spot;
- :func:`camera`: what real cameras do: sensor noise, downscaling blur, JPEG compression;
- :func:`transfer_style`: the colour statistics (mean and std per channel in Lab) of a random *unlabeled* real
  photo, from :func:`style_statistics` of a folder of photos (their annotation files are never opened).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

# FaceSynthetics classes per part (see heatmark.data.relabel for the class list)
PARTS: dict[str, tuple[int, ...]] = {
    "skin": (1, 2, 7, 8, 12),  # skin, nose, ears, neck: one skin tone
    "hair": (5, 6, 13, 14),  # brows, hair, beard
    "lips": (10, 11),
    "eyes": (3, 4),
    "clothes": (15, 16, 17, 18),  # clothing, glasses, head wear, face wear
}
# per part: (max |hue shift| on OpenCV's 0-180 scale, saturation factor range, value factor range)
RANGES: dict[str, tuple[float, tuple[float, float], tuple[float, float]]] = {
    "skin": (6.0, (0.6, 1.4), (0.65, 1.25)),
    "hair": (90.0, (0.3, 1.6), (0.4, 1.5)),
    "lips": (12.0, (0.5, 1.5), (0.7, 1.2)),
    "eyes": (90.0, (0.5, 1.5), (0.7, 1.3)),
    "clothes": (90.0, (0.2, 1.8), (0.4, 1.6)),
}


def part_colours(image: np.ndarray, seg: np.ndarray, rng: np.random.Generator, p_part: float = 0.6) -> np.ndarray:
    """Each part present in ``seg`` changes colour with probability ``p_part`` (RGB uint8 in and out)."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
    out = hsv.copy()
    touched = np.zeros(image.shape[:2], bool)
    for part, classes in PARTS.items():
        mask = np.isin(seg, classes)
        if not mask.any() or rng.random() >= p_part:
            continue
        dh, (s0, s1), (v0, v1) = RANGES[part]
        shifted = hsv.copy()
        shifted[..., 0] = (shifted[..., 0] + rng.uniform(-dh, dh)) % 180.0
        shifted[..., 1] = np.clip(shifted[..., 1] * rng.uniform(s0, s1), 0, 255)
        shifted[..., 2] = np.clip(shifted[..., 2] * rng.uniform(v0, v1), 0, 255)
        alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.8)[..., None]
        out = out * (1 - alpha) + shifted * alpha
        touched |= alpha[..., 0] > 1e-3
    if not touched.any():
        return image
    out[..., 0] = np.clip(out[..., 0], 0, 179.999)
    rgb = cv2.cvtColor(np.round(out).astype(np.uint8), cv2.COLOR_HSV2RGB)
    return np.where(touched[..., None], rgb, image)  # untouched pixels skip the lossy HSV round trip


def shading(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A directional brightness gradient (a light from one side) and a soft spot light."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(ang) * (xx / w - 0.5) + np.sin(ang) * (yy / h - 0.5)) * 2  # -1..1 across the crop
    gain = 1 + rng.uniform(0.15, 0.5) * ramp
    cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.2, 0.6) * max(h, w)
    gain += rng.uniform(0, 0.35) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    return np.clip(image.astype(np.float32) * gain[..., None], 0, 255).round().astype(np.uint8)


def camera(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Downscale blur, sensor noise and JPEG compression, each with probability 1/2 (at least one)."""
    out = image
    steps = rng.random(3) < 0.5
    if not steps.any():
        steps[rng.integers(3)] = True
    h, w = image.shape[:2]
    if steps[0]:
        f = rng.uniform(0.35, 0.85)
        small = cv2.resize(out, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if steps[1]:
        noise = rng.normal(0, rng.uniform(2, 10), out.shape).astype(np.float32)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).round().astype(np.uint8)
    if steps[2]:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 90))])
        out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out


def lab_statistics(image: np.ndarray) -> np.ndarray:
    """(2, 3): mean and std of an RGB uint8 image in OpenCV's 8-bit Lab."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    return np.stack([lab.mean(0), lab.std(0) + 1e-3])


def style_statistics(folder: str | Path, limit: int = 2000, size: int = 128) -> np.ndarray:
    """(N, 2, 3) Lab statistics of the photos in ``folder`` (by extension; nothing else is opened),
    each downscaled to ``size`` pixels on its long side first."""
    from heatmark.data.image_io import IMAGE_EXTS, read_image
    from heatmark.errors import DataError

    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS)[:limit] if folder.is_dir() else []
    if not files:
        raise DataError(folder, "no photos for style statistics", "give a folder of real .jpg/.png photos")
    stats = []
    for f in files:
        img = read_image(f)
        s = size / max(img.shape[:2])
        if s < 1:
            img = cv2.resize(img, (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))),
                             interpolation=cv2.INTER_AREA)
        stats.append(lab_statistics(img))
    return np.stack(stats)


def transfer_style(image: np.ndarray, pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Match ``image``'s Lab mean/std to a random photo's from ``pool`` (N, 2, 3), by a random share 0.3-1."""
    ref = pool[int(rng.integers(len(pool)))]
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    own = lab_statistics(image)
    moved = (lab - own[0]) / own[1] * ref[1] + ref[0]
    t = rng.uniform(0.3, 1.0)
    out = np.clip(lab * (1 - t) + moved * t, 0, 255).round().astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_LAB2RGB)
