"""Augmentation presets.

Geometry (rotation, scale, translation, horizontal flip) is one affine matrix composed with the
crop matrix, so the image is resampled once and landmarks move exactly (albumentations' keypoint
flip uses the pixel-index convention ``x' = W - 1 - x``, which is off by one pixel in ours).
A flip also permutes the landmark indices through the scheme's flip pairs.
Photometric changes and occlusion use albumentations. Background replacement uses the
FaceSynthetics segmentation (class 0 = background).

Presets: ``none``, ``occlusion_translation``, ``full``, ``full_bg`` (full + background replacement).
A config may give a preset name or a mapping ``{preset: full, flip: 0.0, ...}`` overriding fields.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass, fields, replace

import cv2
import numpy as np

from heatmark.errors import ConfigError

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # albumentations must not go online


@dataclass(frozen=True)
class AugmentConfig:
    rotation: float = 0.0  # max |degrees|
    scale: float = 0.0  # zoom in [1 - scale, 1 + scale]
    translate: float = 0.0  # max shift as a fraction of the crop size
    flip: float = 0.0  # probability of a horizontal flip
    blur: float = 0.0  # probability of a Gaussian blur
    occlusion: float = 0.0  # probability of coarse dropout (1-3 random rectangles)
    brightness: float = 0.0  # ± limit (fraction)
    contrast: float = 0.0  # ± limit (fraction)
    gamma: float = 0.0  # ± limit in percent (gamma in [100-g, 100+g] / 100)
    saturation: float = 0.0  # ± shift (0-255 scale)
    hue: float = 0.0  # ± shift (degrees on OpenCV's 0-180 hue scale)
    background: float = 0.0  # probability of replacing the background (needs a segmentation)
    parts: float = 0.0  # probability of per-part colour changes (needs a segmentation; data.appearance)
    shading: float = 0.0  # probability of a random directional light and spot
    camera: float = 0.0  # probability of camera effects (downscale blur, noise, JPEG)
    style: float = 0.0  # probability of colour-statistics transfer from a real photo (needs style_images)
    style_images: str | None = None  # folder of unlabeled real photos for ``style``
    shape: float = 0.0  # probability of a landmark-guided TPS shape warp (iBUG-68 layouts; data.warps)

    @property
    def geometric(self) -> bool:
        return any((self.rotation, self.scale, self.translate, self.flip))


_FULL = AugmentConfig(rotation=25, scale=0.15, translate=0.06, flip=0.5, blur=0.2, occlusion=0.4,
                      brightness=0.3, contrast=0.3, gamma=30, saturation=30, hue=8)
PRESETS: dict[str, AugmentConfig] = {
    "none": AugmentConfig(),
    "occlusion_translation": AugmentConfig(translate=0.08, occlusion=0.5),
    "full": _FULL,
    "full_bg": replace(_FULL, background=0.8),
    "appearance": replace(_FULL, background=0.8, parts=0.8, shading=0.4, camera=0.4),
}


def make_augment_config(spec: str | dict | AugmentConfig | None) -> AugmentConfig:
    """A preset name, a mapping ``{preset: NAME, field: value, ...}``, or a config."""
    if spec is None:
        return PRESETS["none"]
    if isinstance(spec, AugmentConfig):
        return spec
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise ConfigError(f"unknown augmentation preset {spec!r}; valid: {sorted(PRESETS)}")
        return PRESETS[spec]
    if isinstance(spec, dict):
        spec = dict(spec)
        base = make_augment_config(spec.pop("preset", "none"))
        valid = {f.name for f in fields(AugmentConfig)}
        unknown = set(spec) - valid
        if unknown:
            raise ConfigError(f"unknown augmentation keys {sorted(unknown)}; valid: {sorted(valid | {'preset'})}")
        try:
            cfg = replace(base, **{k: (None if v is None else str(v)) if k == "style_images" else float(v)
                                   for k, v in spec.items()})
        except (TypeError, ValueError) as e:
            raise ConfigError(f"augmentation values must be numbers ({e})") from None
        if cfg.style and not cfg.style_images:
            raise ConfigError("augment.style needs augment.style_images: a folder of real photos (only the "
                              "images are read)")
        return cfg
    raise ConfigError(f"augmentation must be a preset name or a mapping, got {type(spec).__name__}")


# ------------------------------------------------------------------ geometry
def sample_geometry(cfg: AugmentConfig, rng: np.random.Generator) -> dict:
    """Random geometric parameters for one sample (all zero/identity for ``none``)."""
    return {
        "rotation_deg": float(rng.uniform(-cfg.rotation, cfg.rotation)) if cfg.rotation else 0.0,
        "scale": float(rng.uniform(1 - cfg.scale, 1 + cfg.scale)) if cfg.scale else 1.0,
        "tx": float(rng.uniform(-cfg.translate, cfg.translate)) if cfg.translate else 0.0,
        "ty": float(rng.uniform(-cfg.translate, cfg.translate)) if cfg.translate else 0.0,
        "flip": bool(rng.random() < cfg.flip) if cfg.flip else False,
    }


def flip_landmarks(points: np.ndarray, width: float, flip_index: np.ndarray) -> np.ndarray:
    """Mirror points horizontally in an image of ``width`` and swap left/right indices."""
    out = np.array(points, copy=True)
    out[..., 0] = width - out[..., 0]
    return out[..., flip_index, :]


# ------------------------------------------------------------------ photometric
class Photometric:
    """albumentations pipeline for a config; ``None`` when the config changes no pixel values."""

    def __init__(self, cfg: AugmentConfig):
        import albumentations as A

        t = []
        if cfg.blur:
            t.append(A.GaussianBlur(blur_limit=(3, 7), sigma_limit=(0.5, 2.0), p=cfg.blur))
        if cfg.occlusion:
            t.append(A.CoarseDropout(num_holes_range=(1, 3), hole_height_range=(0.08, 0.3),
                                     hole_width_range=(0.08, 0.3), fill="random_uniform", p=cfg.occlusion))
        if cfg.brightness or cfg.contrast:
            t.append(A.RandomBrightnessContrast(brightness_limit=cfg.brightness, contrast_limit=cfg.contrast, p=0.8))
        if cfg.gamma:
            t.append(A.RandomGamma(gamma_limit=(100 - cfg.gamma, 100 + cfg.gamma), p=0.5))
        if cfg.saturation or cfg.hue:
            t.append(A.HueSaturationValue(hue_shift_limit=cfg.hue, sat_shift_limit=cfg.saturation,
                                          val_shift_limit=0, p=0.6))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.compose = A.Compose(t, seed=0) if t else None

    def __call__(self, image: np.ndarray, seed: int) -> np.ndarray:
        if self.compose is None:
            return image
        self.compose.set_random_seed(seed)  # per-sample seed: reproducible across workers and resumes
        return self.compose(image=image)["image"]


# ------------------------------------------------------------------ background replacement
def random_texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """A random real-looking background (smooth colour noise, gradient, or clutter), RGB uint8."""
    kind = rng.integers(3)
    if kind == 0:  # smooth colour noise at a random scale
        cells = int(rng.integers(2, 24))
        small = rng.uniform(0, 255, (cells, cells, 3)).astype(np.float32)
        img = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    elif kind == 1:  # linear gradient between two colours
        a, b = rng.uniform(0, 255, (2, 3))
        ang = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[:size, :size] / max(size - 1, 1)
        t = np.clip((np.cos(ang) * xx + np.sin(ang) * yy + 1) / 2, 0, 1)[..., None]
        img = (a * (1 - t) + b * t).astype(np.float32)
    else:  # clutter: rectangles, circles and lines on a flat colour
        img = np.empty((size, size, 3), np.float32)
        img[:] = rng.uniform(0, 255, 3)
        for _ in range(int(rng.integers(4, 16))):
            col = tuple(float(c) for c in rng.uniform(0, 255, 3))
            p1 = tuple(int(v) for v in rng.integers(0, size, 2))
            p2 = tuple(int(v) for v in rng.integers(0, size, 2))
            shape = rng.integers(3)
            if shape == 0:
                cv2.rectangle(img, p1, p2, col, -1)
            elif shape == 1:
                cv2.circle(img, p1, int(rng.integers(2, max(3, size // 4))), col, -1)
            else:
                cv2.line(img, p1, p2, col, int(rng.integers(1, max(2, size // 20))))
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 3.0))
    img += rng.normal(0, rng.uniform(0, 12), img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def replace_background(image: np.ndarray, foreground: np.ndarray, rng: np.random.Generator,
                       pool: list[np.ndarray] | None = None) -> np.ndarray:
    """Put ``image``'s foreground (mask > 0) on a new background: a random crop of an image from
    ``pool`` (e.g. your own background photos) or a generated texture. Edges are feathered."""
    h, w = image.shape[:2]
    if pool and rng.random() < 0.5:
        src = pool[int(rng.integers(len(pool)))]
        sh, sw = src.shape[:2]
        side = int(min(sh, sw) * rng.uniform(0.3, 1.0))
        y0, x0 = int(rng.integers(0, sh - side + 1)), int(rng.integers(0, sw - side + 1))
        bg = cv2.resize(src[y0:y0 + side, x0:x0 + side], (w, h), interpolation=cv2.INTER_AREA)
    else:
        bg = cv2.resize(random_texture(max(h, w), rng), (w, h))
    alpha = cv2.GaussianBlur((foreground > 0).astype(np.float32), (0, 0), 1.0)[..., None]
    return (image * alpha + bg * (1 - alpha)).round().astype(np.uint8)


def describe(cfg: AugmentConfig) -> dict:
    return {k: v for k, v in asdict(cfg).items() if v}
