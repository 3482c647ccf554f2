"""MTCNN face detector (Zhang et al. 2016) on onnxruntime and NumPy: no torch, no download.

Three small networks shipped in ``heatmark/assets/mtcnn`` (ONNX, converted by ``tools/convert_mtcnn.py``; licence
file beside them): P-Net proposes faces on an image pyramid, R-Net (24×24 crops) and O-Net (48×48 crops) refine
them; O-Net also gives 5 points (eye centres, nose tip, mouth corners). Boxes use heatmark's continuous pixel
convention (x2, y2 exclusive). Thread-safe: onnxruntime sessions may be run from several threads, and a call
keeps all its state in local variables.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

ASSETS = Path(__file__).parent / "assets" / "mtcnn"
MAX_LEVEL_PIXELS = 2**22  # the finest pyramid level's pixels at most (memory and time on huge photos)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union",
        groups: np.ndarray | None = None) -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, best first. ``mode``: overlap over the union (IoU) or over
    the smaller box (``"min"``). Boxes (N, 4) x1 y1 x2 y2 (continuous; area = (x2 - x1)·(y2 - y1)). ``groups``
    (N,) integer labels (union mode): boxes suppress only boxes of their own group, all groups in one call."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    if mode == "union":  # OpenCV's C++ loop: the same boxes in the same order (tested), 5-40x faster
        rects = np.concatenate([boxes[:, :2], boxes[:, 2:4] - boxes[:, :2]], 1).astype(np.float64)
        shifted = np.asarray(scores, np.float64) - float(np.min(scores)) + 1.0  # > 0: OpenCV drops scores <= 0
        if groups is None:
            keep = cv2.dnn.NMSBoxes(rects.tolist(), shifted.tolist(), 0.0, float(threshold))
        else:
            keep = cv2.dnn.NMSBoxesBatched(rects.tolist(), shifted.tolist(), np.asarray(groups, np.int64).tolist(),
                                           0.0, float(threshold))
        keep = np.asarray(keep, np.int64).reshape(-1)
        return keep[np.argsort(-shifted[keep], kind="stable")] if groups is not None else keep
    if groups is not None:
        raise ValueError("nms: groups work with mode='union' only")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        order = rest[inter <= threshold * np.maximum(denom, 1e-12)]
    return np.asarray(keep, np.int64)


def _square(boxes: np.ndarray) -> np.ndarray:
    """Boxes made square around their centres (side = the longer side)."""
    c = (boxes[:, :2] + boxes[:, 2:4]) / 2
    half = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])[:, None] / 2
    return np.concatenate([c - half, c + half], 1)


def _refine(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Apply the networks' box regression (offsets in box sides)."""
    side = np.concatenate([boxes[:, 2:4] - boxes[:, :2]] * 2, 1)
    return boxes + offsets * side


def _pyramid_crops(sources: list[tuple[float, float, np.ndarray]], boxes: np.ndarray, size: int) -> np.ndarray:
    """(N, 3, size, size) float32 network input for boxes (N, 4) (zero outside the image), close to an area
    resize of each box: every box is sampled bilinearly at twice the crop size (one ``cv2.remap`` per pyramid level)
    from the least downscaled level still fine enough for that, then all crops are halved at once by exact 2×2
    averaging. Bilinear sampling alone (no final averaging) aliased and lost faces on turned photos.

    ``sources``: (x scale, y scale, image) of the photo (1, 1) and its pyramid levels, finest first."""
    n, big = len(boxes), 2 * size
    out = np.zeros((n, big, big, 3), np.uint8)
    if n == 0:
        return _net_input(np.zeros((0, size, size, 3), np.uint8))
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    need = big / np.maximum(side, 1e-6)  # the scale at which the box is `big` pixels wide
    scales = np.array([min(sx, sy) for sx, sy, _ in sources])
    fine_enough = scales[None, :] >= need[:, None] * 0.999  # (N, levels)
    choice = np.where(fine_enough, np.arange(len(sources)), -1).max(1).clip(0)  # the coarsest fine-enough one
    u = (np.arange(big) + 0.5) / big  # sample centres as fractions of the box
    for j in np.unique(choice):
        sx, sy, img = sources[j]
        idx = np.nonzero(choice == j)[0]
        b = boxes[idx]
        # source pixel index (OpenCV: centres at integers) of each sample centre
        mx = (b[:, None, 0] + u[None] * (b[:, None, 2] - b[:, None, 0])) * sx - 0.5  # (m, big)
        my = (b[:, None, 1] + u[None] * (b[:, None, 3] - b[:, None, 1])) * sy - 0.5
        map_x = np.broadcast_to(mx[:, None, :], (len(idx), big, big)).reshape(-1, big).astype(np.float32)
        map_y = np.broadcast_to(my[:, :, None], (len(idx), big, big)).reshape(-1, big).astype(np.float32)
        got = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out[idx] = got.reshape(len(idx), big, big, 3)
    halved = cv2.resize(out.reshape(n * big, big, 3), (size, n * size), interpolation=cv2.INTER_AREA)
    return _net_input(halved.reshape(n, size, size, 3))


def _net_input(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) RGB, 0..255 → the networks' (N, 3, H, W) float32 input in [-1, 1)."""
    x = images.transpose(0, 3, 1, 2).astype(np.float32)  # transposing the uint8 first: ~8x faster, same values
    x -= 127.5
    x *= 0.0078125
    return x


class MTCNNDetector:
    """``detector(rgb) -> (boxes (N, 4) x1 y1 x2 y2, scores (N,))``, best first; :meth:`detect` also returns the
    5 points (N, 5, 2).

    Args:
        min_face: smallest face side to look for, in pixels of the image (the pyramid starts there).
        thresholds: face-probability thresholds of P-, R- and O-Net.
        factor: pyramid scale step.
        threads: onnxruntime threads per network (default: one for P-Net, whose many small calls ran faster on one
            thread than on two, all cores for the batched R- and O-Net; OpenCV's DNN module ran P-Net slower).
            With this and the grouped NMS, ``heatmark bench detectors`` went from 9.6 to 8.5 ms per 640×480 photo
            on a 2-core Xeon (6.2 with the helper thread and the split R-/O-Net batches). ``threads=1`` runs the
            whole cascade in the calling thread (no helper thread, see :meth:`propose` and :meth:`_run_halves`).
    """

    name = "mtcnn"
    thread_safe = True

    def __init__(self, min_face: float = 40.0, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
                 factor: float = 0.709, threads: int | None = None):
        from heatmark.onnx_runtime import open_session

        self.min_face, self.thresholds, self.factor = float(min_face), tuple(thresholds), float(factor)
        self.pnet = open_session(ASSETS / "pnet.onnx", threads or 1)
        # one helper thread (none on one core or when told one thread) for P-Net's finest pyramid level (see
        # propose) and for half of each R- and O-Net batch (see _run_halves): each half on half of the cores
        cores = threads or os.cpu_count() or 1
        self._use_helper = cores > 1
        self._helper_pid, self._helper_obj, self._helper_lock = None, None, threading.Lock()
        per_half = max(1, cores // 2)
        self.rnet, self.onet = (open_session(ASSETS / f"{n}.onnx", per_half) for n in ("rnet", "onet"))

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes, scores, _ = self.detect(rgb)
        return boxes, scores

    def scales(self, h: int, w: int) -> list[float]:
        """The image pyramid: 12 / min_face, then × factor while the shorter side stays ≥ 12 pixels. The finest
        level holds at most ``MAX_LEVEL_PIXELS``: in a photo over ~46 megapixels the smallest face looked for
        grows past ``min_face`` (a 20 000 × 20 000 image: ~117 px; measured 1.3 s and 1.4 GB peak, of which the
        image itself is 1.2 GB, instead of 16 s and 7.3 GB)."""
        s, out = min(12.0 / self.min_face, (MAX_LEVEL_PIXELS / max(h * w, 1)) ** 0.5), []
        while min(h, w) * s >= 12:
            out.append(s)
            s *= self.factor
        return out

    def propose(self, rgb: np.ndarray) -> tuple[np.ndarray, list[tuple[float, float, np.ndarray]]]:
        """P-Net over the pyramid → candidate boxes (N, 4) + score (N, 5), suppressed per scale and overall, and
        the pyramid: (x scale, y scale, image) of the photo and each level, finest first (R- and O-Net crop
        from it).

        With two or more cores, P-Net runs on the finest level (about half of P-Net's work) in a helper thread
        while the calling thread builds and runs the coarser levels (onnxruntime releases the GIL): the same
        candidates, 8.2 -> 7.0 ms per 640×480 photo in an A/B on the 2-core Xeon."""
        h, w = rgb.shape[:2]
        pyramid, levels = [(1.0, 1.0, rgb)], []
        level, pending = rgb, None
        for i, s in enumerate(self.scales(h, w)):
            hs, ws = int(h * s + 1), int(w * s + 1)
            # each level from the one before (area averaging from a smaller source: the pyramid costs about one
            # resize of the photo instead of one per level); from the photo, halve first while the level is under
            # half of it: OpenCV's exact-2x area path is ~4x faster than a fractional area resize of the photo (and
            # the halves are sources for R- and O-Net crops of large boxes). A bilinear resize to twice the level
            # and exact halving was ~0.25 ms faster per 640×480 photo but lost 2 of 337 AFW faces: not taken.
            while level.shape[0] % 2 == 0 and level.shape[1] % 2 == 0 and hs * 2 <= level.shape[0] \
                    and ws * 2 <= level.shape[1]:
                level = cv2.resize(level, (level.shape[1] // 2, level.shape[0] // 2), interpolation=cv2.INTER_AREA)
                pyramid.append((level.shape[1] / w, level.shape[0] / h, level))
            level = cv2.resize(level, (ws, hs), interpolation=cv2.INTER_AREA)
            pyramid.append((ws / w, hs / h, level))
            helper = self._helper if i == 0 else None
            if helper is not None:
                pending = helper.submit(self._pnet_level, level, s, i)
            else:
                levels.append(self._pnet_level(level, s, i))
        found = [f for f in ([pending.result()] if pending is not None else []) + levels if f is not None]
        if not found:
            return np.zeros((0, 5)), pyramid
        cand = np.concatenate(found)
        cand = cand[nms(cand[:, :4], cand[:, 4], 0.5, groups=cand[:, 5])]  # per scale, in one call
        return cand[nms(cand[:, :4], cand[:, 4], 0.7), :5], pyramid

    @property
    def _helper(self) -> ThreadPoolExecutor | None:
        """The helper thread's executor, made per process: a process forked after a detection (multiprocessing's
        fork start method) inherits an executor whose thread is gone, and a task given to it would wait forever."""
        if not self._use_helper:
            return None
        if self._helper_pid != os.getpid():
            with self._helper_lock:
                if self._helper_pid != os.getpid():
                    self._helper_obj, self._helper_pid = ThreadPoolExecutor(1, "heatmark-pnet"), os.getpid()
        return self._helper_obj

    def _run_halves(self, session, x: np.ndarray) -> list[np.ndarray]:
        """``session``'s outputs for the crops ``x``; with the helper thread, its first half runs there while the
        calling thread runs the second (the same outputs; on the 2-core Xeon R-Net's 15 crops of a photo took
        0.67 ms as two one-thread halves against 0.90 on one two-thread session, O-Net's 5 crops 1.21 against
        1.35)."""
        helper = self._helper if len(x) > 1 else None
        if helper is None:
            return session.run(None, {"image": x})
        half = len(x) // 2
        first = helper.submit(session.run, None, {"image": x[:half]})
        second = session.run(None, {"image": x[half:]})
        return [np.concatenate([a, b]) for a, b in zip(first.result(), second)]

    def _pnet_level(self, level: np.ndarray, s: float, i: int) -> np.ndarray | None:
        """P-Net on one pyramid level (scale ``s``, index ``i``) → rows x1 y1 x2 y2 score level, or None."""
        offsets, prob = self.pnet.run(None, {"image": _net_input(level[None])})
        ys, xs = np.nonzero(prob[0, 1] >= self.thresholds[0])
        if len(ys) == 0:
            return None
        # each output cell is a 12×12 window at stride 2 of the scaled image; to continuous image pixels
        cell = np.stack([xs, ys], 1).astype(np.float64) * 2
        b = _refine(np.concatenate([cell / s, (cell + 12) / s], 1), offsets[0][:, ys, xs].T.astype(np.float64))
        return np.concatenate([b, prob[0, 1, ys, xs, None], np.full((len(ys), 1), i)], 1)

    def detect(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (N, 4), scores (N,) and the 5 points (N, 5, 2) of each face, in image pixels, best first."""
        rgb = np.ascontiguousarray(rgb[..., :3] if rgb.ndim == 3 else np.repeat(rgb[..., None], 3, 2))
        empty = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))
        cand, pyramid = self.propose(rgb)
        if len(cand) == 0:
            return empty
        boxes = _square(cand[:, :4])
        offsets, prob = self._run_halves(self.rnet, _pyramid_crops(pyramid, boxes, 24))
        ok = prob[:, 1] > self.thresholds[1]
        if not ok.any():
            return empty
        boxes, score, offsets = boxes[ok], prob[ok, 1].astype(np.float64), offsets[ok].astype(np.float64)
        keep = nms(boxes, score, 0.7)
        boxes = _square(_refine(boxes[keep], offsets[keep]))
        offsets, pts, prob = self._run_halves(self.onet, _pyramid_crops(pyramid, boxes, 48))
        ok = prob[:, 1] > self.thresholds[2]
        if not ok.any():
            return empty
        boxes, score = boxes[ok], prob[ok, 1].astype(np.float64)
        side = boxes[:, 2:4] - boxes[:, :2]
        points = np.stack([pts[ok, :5], pts[ok, 5:]], 2) * side[:, None] + boxes[:, None, :2]
        boxes = _refine(boxes, offsets[ok].astype(np.float64))
        keep = nms(boxes, score, 0.7, "min")
        return boxes[keep].astype(np.float32), score[keep].astype(np.float32), points[keep].astype(np.float32)
