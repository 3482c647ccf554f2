"""Torch dataset over a :class:`CropCache`: final crop, augmentation, scheme conversion."""

from __future__ import annotations

import numpy as np
import torch

from heatmark.data.augment import AugmentConfig, Photometric, make_augment_config, replace_background, sample_geometry
from heatmark.data.cache import CropCache
from heatmark.data.crops import around_centre, box_from_landmarks, crop_matrix, transform_points, warp
from heatmark.data.schemes import Scheme, can_convert, convert_points, get_scheme
from heatmark.errors import ConfigError


class LandmarkDataset(torch.utils.data.Dataset):
    """Samples ready for a model.

    Each item is a dict: ``image`` float32 (3, S, S) in [0, 1]; ``landmarks`` float32 (K, 2) in
    input-crop pixels of ``target_scheme``; ``visible`` float32 (K,); ``matrix`` float64 (3, 3)
    mapping original-image coordinates to the input crop; ``index``.

    The face box is ``box_scale`` × the landmark box (square); training jitter comes from the
    augmentation config's scale and translation. Augmentation randomness is a function of
    (seed, epoch, index, draw), so runs are reproducible whatever the number of workers; ``draw`` counts
    the times a sample is drawn within one epoch (a sampler that draws more items than the dataset holds
    must give each repeat its own augmentation, or the epoch shows the network the same image again).
    """

    def __init__(self, cache: CropCache, input_size: int = 128, target_scheme: str | Scheme | None = None,
                 augment: str | dict | AugmentConfig | None = None, box_scale: float = 1.25, seed: int = 0,
                 background_pool: list[np.ndarray] | None = None):
        self.cache = cache
        self.input_size = int(input_size)
        self.src_scheme = cache.scheme
        self.scheme = get_scheme(target_scheme) if target_scheme is not None else cache.scheme
        if not can_convert(self.src_scheme, self.scheme):
            raise ConfigError(f"cannot train scheme {self.scheme.name} from data in scheme {self.src_scheme.name}")
        self.aug = make_augment_config(augment)
        self.photometric = Photometric(self.aug)
        self.box_scale = float(box_scale)
        self.seed = int(seed)
        self.epoch = 0
        self.background_pool = background_pool
        self.style_pool = None
        if self.aug.shape and self.src_scheme.name not in ("ibug68", "facesynthetics70"):
            raise ConfigError(f"augment.shape needs iBUG-68 landmarks (ibug68, facesynthetics70), not "
                              f"{self.src_scheme.name}")
        if self.aug.style:
            from heatmark.data.appearance import style_statistics

            self.style_pool = style_statistics(self.aug.style_images)
        self._flip_index = self.src_scheme.flip_index
        # base matrices cache-crop → input crop (no augmentation), one per sample
        expand = self.src_scheme.box_expand
        self.base_matrix = np.stack([crop_matrix(box_from_landmarks(lm, self.box_scale, vis, expand), self.input_size)
                                     for lm, vis in zip(cache.landmarks, cache.visible)])

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.cache)

    def sample_seed(self, index: int, epoch: int | None = None, draw: int = 0) -> int:
        e = self.epoch if epoch is None else epoch
        key = [self.seed, e, index] + ([int(draw)] if draw else [])  # draw 0: the key of a single pass
        return int(np.random.SeedSequence(key).generate_state(1)[0])

    def load(self, index: int, epoch: int | None = None, draw: int = 0) -> dict:
        """The sample as numpy arrays (uint8 HWC image), before tensor conversion. ``epoch`` overrides
        :meth:`set_epoch` (samplers pass it with the index so persistent workers need no message);
        ``draw`` is the how-many-th time this sample is drawn in the epoch (0 the first)."""
        c, s = self.cache, self.input_size
        seed = self.sample_seed(index, epoch, draw)
        rng = np.random.default_rng(seed)
        m = self.base_matrix[index]
        flip = False
        if self.aug.geometric:
            g = sample_geometry(self.aug, rng)
            flip = g["flip"]
            m = around_centre(s, g["scale"], g["rotation_deg"], g["tx"], g["ty"], flip) @ m
        image = warp(np.asarray(c.images[index]), m, s)
        pts = transform_points(m, c.landmarks[index]).astype(np.float32)
        vis = c.visible[index].copy()
        if flip:  # the matrix mirrored the coordinates; swap left/right indices
            pts, vis = pts[self._flip_index], vis[self._flip_index]
        maps = None
        if self.aug.shape and rng.random() < self.aug.shape:  # a new face shape: TPS warp, landmarks exact
            from heatmark.data.warps import random_shape, tps_maps, warp_to

            target = random_shape(pts, rng).astype(np.float32)
            maps = tps_maps(pts.astype(np.float64), target.astype(np.float64), s)
            image, pts = warp_to(image, maps), target
        image = self._appearance(image, index, m, rng, seed, maps)
        pts = convert_points(pts, self.src_scheme, self.scheme)
        vis = convert_points(vis[:, None], self.src_scheme, self.scheme)[:, 0]
        return {"image": image, "landmarks": pts, "visible": vis,
                "matrix": m @ c.matrices[index], "index": index, "flipped": flip}

    def _appearance(self, image: np.ndarray, index: int, m: np.ndarray, rng: np.random.Generator,
                    seed: int, maps=None) -> np.ndarray:
        """Colour-only changes (no pixel moves): background, parts, shading, style, photometric, camera.
        A disabled step draws no random number, so older configs keep their exact augmentations."""
        import cv2

        from heatmark.data import appearance

        a, masks = self.aug, self.cache.masks
        mask = None
        if masks is not None and (a.background or a.parts):
            mask = warp(np.asarray(masks[index]), m, self.input_size, interpolation=cv2.INTER_NEAREST)
            if maps is not None:  # the shape warp moved the pixels: move the mask with them
                from heatmark.data.warps import warp_to

                mask = warp_to(mask, maps, nearest=True)
        if a.background and mask is not None and rng.random() < a.background:
            image = replace_background(image, mask, rng, self.background_pool)
        if a.parts and mask is not None and rng.random() < a.parts:
            image = appearance.part_colours(image, mask, rng)
        if a.shading and rng.random() < a.shading:
            image = appearance.shading(image, rng)
        if self.style_pool is not None and rng.random() < a.style:
            image = appearance.transfer_style(image, self.style_pool, rng)
        image = self.photometric(image, seed % (2**31))
        if a.camera and rng.random() < a.camera:
            image = appearance.camera(image, rng)
        return image

    def __getitem__(self, index: int | tuple[int, int] | tuple[int, int, int]) -> dict:
        """``index``, ``(index, epoch)`` or ``(index, epoch, draw)``."""
        index, epoch, draw = (*index, 0)[:3] if isinstance(index, tuple) else (index, None, 0)
        d = self.load(index, epoch, draw)
        img = torch.from_numpy(np.ascontiguousarray(d["image"])).permute(2, 0, 1).float().div_(255.0)
        return {"image": img, "landmarks": torch.from_numpy(d["landmarks"]),
                "visible": torch.from_numpy(d["visible"].astype(np.float32)),
                "matrix": torch.from_numpy(d["matrix"]), "index": index}
