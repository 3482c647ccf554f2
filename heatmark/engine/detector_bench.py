"""Face detectors side by side, in one process and one run: recall, speed on 640×480 photos, small faces, threads.

Match rule (the same for every detector): an annotated face is found when a detection overlaps the bounding box
of its landmarks with IoU ≥ 0.3. Small faces: each annotated face scaled so its landmark box is ``small_side``
pixels and pasted (with its surroundings) at a random place of a 640×480 canvas; those canvases are also the
photos the speed is timed on (median ms per photo after untimed warm-up). Threads: 4 threads share one
``Landmarker`` on ``thread_photos`` photos × 3 rounds; a result that differs from the single-thread one, or an
exception, counts against the detector.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from heatmark.data.records import Records
from heatmark.detect import match_detection

CANVAS = (640, 480)


def found(boxes: np.ndarray, landmarks: np.ndarray) -> bool:
    """The match rule: a detection with IoU >= 0.3 against the landmarks' bounding box."""
    return match_detection(boxes, landmarks) is not None


def small_face_canvases(records: Records, side: float = 73.0, limit: int | None = None, seed: int = 0):
    """(640×480 RGB canvas, landmarks on it) per record: the face scaled to a ``side``-pixel landmark box and its
    crop placed at a random position (grey elsewhere)."""
    rng = np.random.default_rng(seed)
    w, h = CANVAS
    for r in list(records)[:limit]:
        img = r.load_image()
        lo, hi = r.landmarks.min(0), r.landmarks.max(0)
        s = side / max(hi - lo)
        pos = rng.uniform([side, side], [w - 2 * side, h - 2 * side])  # where the landmark box's corner goes
        m = np.array([[s, 0, pos[0] - lo[0] * s], [0, s, pos[1] - lo[1] * s]], np.float64)
        canvas = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_AREA, borderValue=(128, 128, 128))
        yield canvas, r.landmarks * s + (pos - lo * s)


def thread_check(detect, photos: list[np.ndarray], threads: int = 4, rounds: int = 3) -> tuple[int, int]:
    """(wrong results, exceptions) of ``threads`` threads calling one ``detect`` on ``photos`` × ``rounds``."""
    expected = [np.asarray(detect(p)[0]) for p in photos]
    jobs = [i for _ in range(rounds) for i in range(len(photos))]

    def one(i):
        try:
            return i, np.asarray(detect(photos[i])[0]), None
        except Exception as e:  # noqa: BLE001 - counted, not raised: this is what the check measures
            return i, None, e

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, jobs))
    errors = sum(e is not None for _, _, e in results)
    wrong = sum(b is not None and (b.shape != expected[i].shape or not np.allclose(b, expected[i], atol=1e-3))
                for i, b, _ in results)
    return wrong, errors


def bench_detectors(detectors: list[str], sets: dict[str, Records], small: Records, small_limit: int = 100,
                    repeats: int = 3, thread_photos: int = 10, log=print) -> list[dict]:
    """One row per detector: recall on each set, small-face recall, ms per 640×480 photo, the thread check."""
    from heatmark.api import Landmarker
    from heatmark.engine.speed import median_ms_per_item

    canvases = list(small_face_canvases(small, limit=small_limit))
    rows = []
    for name in detectors:
        lm = Landmarker(detector=name)
        det = lm.detect
        row = {"detector": name}
        for set_name, records in sets.items():
            hits = sum(found(det(r.load_image())[0], r.landmarks) for r in records)
            row[f"recall {set_name} %"] = 100 * hits / max(len(records), 1)
        row["small faces %"] = 100 * sum(found(det(c)[0], p) for c, p in canvases) / max(len(canvases), 1)
        row["ms / 640x480"] = median_ms_per_item(det, [c for c, _ in canvases], repeats)
        wrong, errors = thread_check(det, [c for c, _ in canvases[:thread_photos]])
        row["4 threads: wrong / errors"] = f"{wrong} / {errors}"
        log(f"{name}: {row}")
        rows.append(row)
    return rows
