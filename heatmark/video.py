"""Landmarks on video: tracking from the previous frame's landmarks, detection only when tracking is lost,
and One Euro temporal smoothing (Casiez et al., CHI 2012)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from heatmark.data.visualize import draw_landmarks
from heatmark.errors import DataError


class OneEuroFilter:
    """One Euro filter over arrays of any shape (vectorised over points).

    min_cutoff (Hz) sets smoothing at rest (lower = smoother, more lag); beta raises the cut-off with speed
    (higher = less lag on fast motion)."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.x = self.dx = None

    @staticmethod
    def _alpha(cutoff, dt):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, dt: float) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self.x is None:
            self.x, self.dx = x.copy(), np.zeros_like(x)
            return x
        dt = max(dt, 1e-6)
        dx = (x - self.x) / dt
        a_d = self._alpha(self.d_cutoff, dt)
        self.dx = a_d * dx + (1 - a_d) * self.dx
        cutoff = self.min_cutoff + self.beta * np.abs(self.dx)
        a = self._alpha(cutoff, dt)
        self.x = a * x + (1 - a) * self.x
        return self.x


@dataclass
class Track:
    landmarks: np.ndarray
    filter: OneEuroFilter | None
    age: int = 0
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class VideoStats:
    frames: int = 0
    detections: int = 0
    seconds: float = 0.0
    landmark_seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def _lost(pts: np.ndarray, scores: np.ndarray, shape, min_score: float) -> bool:
    h, w = shape[:2]
    lo, hi = pts.min(0), pts.max(0)
    size = float(max(hi - lo))
    inside = lo[0] > -0.2 * size and lo[1] > -0.2 * size and hi[0] < w + 0.2 * size and hi[1] < h + 0.2 * size
    return (not inside) or size < 12 or float(np.mean(scores)) < min_score


def _annotated(rgb: np.ndarray, tracks: list, dt: float, render, scheme, fps: float) -> np.ndarray:
    """A BGR output frame: each track's smoothed landmarks drawn (or ``render``-ed) and the FPS printed."""
    shown = rgb
    for tr in tracks:
        pts = tr.filter(tr.landmarks, dt) if tr.filter is not None else tr.landmarks
        shown = render(shown, pts) if render else draw_landmarks(shown, pts, scheme)
    out = cv2.cvtColor(shown, cv2.COLOR_RGB2BGR)
    cv2.putText(out, f"{fps:.1f} FPS", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 255, 255), 2, cv2.LINE_AA)
    return out


def process_video(landmarker, source, out_path: str | Path | None, smooth: bool = True, min_cutoff: float = 1.0,
                  beta: float = 0.05, min_score: float = 0.15, max_faces: int = 4, max_frames: int | None = None,
                  draw: bool = True, render=None) -> VideoStats:
    """Read ``source`` (a file path or a camera index), write an annotated video to ``out_path``.
    ``render(rgb, landmarks) -> rgb`` draws each tracked face (default: the landmarks; face filters pass theirs)."""
    cap = cv2.VideoCapture(int(source) if isinstance(source, int) else str(source))
    if not cap.isOpened():
        raise DataError(None if isinstance(source, int) else source, "cannot open video",
                        "check the path / camera index and that OpenCV can decode it")
    fps_in = cap.get(cv2.CAP_PROP_FPS) or 30.0
    writer = None
    tracks: list[Track] = []
    stats = VideoStats()
    t_start = time.perf_counter()
    dt = 1.0 / fps_in
    try:
        while max_frames is None or stats.frames < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            t0 = time.perf_counter()
            kept: list[Track] = []
            for tr in tracks:
                pts, scores = landmarker.track(rgb, tr.landmarks)
                if not _lost(pts, scores, rgb.shape, min_score):
                    tr.landmarks, tr.scores, tr.age = pts, scores, tr.age + 1
                    kept.append(tr)
            tracks = kept
            if not tracks:  # detection only when tracking is lost
                stats.detections += 1
                for face in landmarker.predict(rgb)[:max_faces]:
                    f = OneEuroFilter(min_cutoff, beta) if smooth else None
                    tracks.append(Track(face.landmarks.astype(np.float64), f, 0, face.scores))
            stats.landmark_seconds += time.perf_counter() - t0
            stats.frames += 1
            if draw or out_path:
                elapsed = time.perf_counter() - t_start
                out = _annotated(rgb, tracks, dt, render, landmarker.scheme, stats.frames / elapsed if elapsed else 0.0)
                if out_path:
                    if writer is None:
                        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
                        h, w = out.shape[:2]
                        writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), fps_in, (w, h))
                    writer.write(out)
            else:
                for tr in tracks:
                    if tr.filter is not None:
                        tr.filter(tr.landmarks, dt)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    stats.seconds = time.perf_counter() - t_start
    return stats
