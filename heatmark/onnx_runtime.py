"""Inference with onnxruntime and NumPy alone: no torch is imported.

An ONNX file written by ``heatmark export`` carries the weights file's description (codec, scheme, input size,
box scale, card) in its metadata under ``heatmark``, so :class:`OnnxPredictor` needs nothing else: crops in,
network through onnxruntime, decoding with :mod:`heatmark.codecs.numpy_decoders`, flip test-time augmentation
in NumPy. ``Landmarker("model.onnx")`` uses it.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from heatmark.codecs.numpy_decoders import NumpyCodec
from heatmark.data.schemes import Scheme
from heatmark.errors import DataError, HeatmarkError


def open_session(path: str | Path, threads: int | None = None, spin: bool = False):
    """An onnxruntime CPU session with heatmark's settings: all graph optimisations; worker threads that sleep
    between operators unless ``spin`` (busy-waiting within a run, stopped when it returns: faster on idle
    cores, much slower on busy ones)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise HeatmarkError("ONNX inference needs onnxruntime, a dependency of heatmark: "
                            "pip install onnxruntime") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or os.cpu_count() or 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # no busy-waiting by default: spinning ORT threads starved the (then torch) decode that followed (8 ms vs
    # 2.3 ms), and on busy cores they lose their time slices (FastestSession measures when spinning pays)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    if spin:  # spin between a run's operators only: threads spinning on after it slowed the next photo's detection
        opts.add_session_config_entry("session.force_spinning_stop", "1")  # (docs/results/release_measurements.txt)
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for unreadable models
        raise DataError(path, f"not a readable ONNX model ({str(e).splitlines()[0][:160]})",
                        "export it again with heatmark export") from None


class FastestSession:
    """Runs each call on whichever of several sessions of one model has been fastest lately.

    Which thread setting is fastest for a single face depends on the load at the time. On the idle 2-core Xeon,
    two spinning threads ran ``default`` at 2.39-2.55 ms per face (whole ``predict``) against 2.81-2.85 ms on one
    thread; with two other busy processes they took 6.3-6.7 ms against 4.6-5.0 ms (``tools/thread_check.py``,
    docs/results/thread_check.txt). So it is measured while running: the options take turns until each has
    ``window`` timed calls (the first call of each is a warm-up, not counted); then the first option (the safe
    one) runs unless another's median over its last ``window`` calls is at least ``margin`` lower; and every
    ``explore_every`` calls another option runs once, so a change of load is noticed (the option in use is
    timed on every call, so its slowdown shows at once). Timings on a busy machine are noisy, hence medians and
    the margin. Thread-safe; sessions are made on first use.

    Args:
        factories: option name → a function that makes its session; the first is the safe default.
        window: timed calls per option that the choice looks at.
        margin: how much faster (fraction of the first option's median) another option must be to be used.
        explore_every: every this many calls, one call goes to an option not in use.
        clock: the timer (tests pass a fake one).

    Examples:
        >>> runner = FastestSession({"1 thread": lambda: open_session(p, 1),
        ...                          "2 spinning": lambda: open_session(p, 2, spin=True)})
        >>> out = runner.run({"image": x})
        >>> runner.choice()
        '2 spinning'
    """

    def __init__(self, factories: dict[str, Callable[[], object]], window: int = 9, margin: float = 0.1,
                 explore_every: int = 32, clock: Callable[[], float] = time.perf_counter):
        if not factories:
            raise ValueError("FastestSession needs at least one session factory")
        if int(window) < 1 or int(explore_every) < 1 or not 0 <= margin < 1:
            raise ValueError(f"FastestSession: window and explore_every must be >= 1 and margin in [0, 1), got "
                             f"window={window}, explore_every={explore_every}, margin={margin}")
        self._factories, self._clock = dict(factories), clock
        self.window, self.margin, self.explore_every = int(window), float(margin), int(explore_every)
        self._sessions: dict[str, object] = {}
        self._times = {k: deque(maxlen=self.window) for k in self._factories}
        self._warm: set[str] = set()
        self._calls = 0
        self._lock = threading.Lock()

    def choice(self) -> str:
        """The option the next call runs on."""
        with self._lock:
            untried = min(self._times, key=lambda k: len(self._times[k]) + (k in self._warm))
            if len(self._times[untried]) < self.window:
                return untried  # still taking turns
            medians = {k: statistics.median(t) for k, t in self._times.items()}  # np.median: 0.1 ms
            best = next(iter(medians))
            for k, m in medians.items():
                if m < (1 - self.margin) * medians[best]:
                    best = k
            if self._calls % self.explore_every or len(self._times) == 1:
                return best
            others = [k for k in self._times if k != best]
            return others[(self._calls // self.explore_every) % len(others)]

    def session(self, key: str):
        """The session of option ``key`` (made on first use)."""
        if key not in self._sessions:
            with self._lock:
                if key not in self._sessions:
                    self._sessions[key] = self._factories[key]()
        return self._sessions[key]

    def run(self, feeds: dict) -> list:
        """``session.run(None, feeds)`` on the option chosen now; its time is recorded."""
        key = self.choice()
        session = self.session(key)
        start = self._clock()
        out = session.run(None, feeds)
        elapsed = self._clock() - start
        with self._lock:
            self._calls += 1
            if key in self._warm:
                self._times[key].append(elapsed)
            else:
                self._warm.add(key)
        return out


def single_face_options(path: str | Path) -> dict[str, Callable[[], object]]:
    """The sessions :class:`FastestSession` chooses from for single faces of the model at ``path``: one thread (the
    safe option, first) and, on more than one core, two threads spinning within a run."""
    options = {"1 thread": lambda: open_session(path, 1)}
    if (os.cpu_count() or 1) > 1:
        options["2 spinning threads"] = lambda: open_session(path, 2, spin=True)
    return options


class OnnxPredictor:
    """A heatmark ONNX model run by onnxruntime with decoding in NumPy: crops in, points out, no torch.

    Args:
        path: an ONNX file written by ``heatmark export`` (it carries the scheme, codec and input size).
        flip: horizontal-flip test-time augmentation (the mean with the mirrored prediction).
        decoder: a heatmap decoder overriding the model's (``argmax``, ``quarter``, ``dark``, ...).
        threads: onnxruntime intra-op threads (None: heatmark's measured default: batches on all cores; a single
            face on one thread or on two spinning threads, whichever :class:`FastestSession` measures faster
            at the time: two spinning threads win on idle cores and lose badly on busy ones).

    Raises:
        DataError: a missing file, or an ONNX file without heatmark's description (not from ``heatmark export``).

    Examples:
        >>> pred = OnnxPredictor("heatmark/weights/default.int8.onnx")
        >>> pts, scores = pred.run_crops(crops)          # (N, 128, 128, 3) uint8 → (N, 68, 2), (N, 68)
    """

    def __init__(self, path: str | Path, flip: bool = False, decoder: str | None = None, threads: int | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(self.path, "ONNX model not found")
        self.session = open_session(self.path, threads)
        # single faces: the measured choice, unless a thread count was given (then one session for everything)
        self.single_face = FastestSession(single_face_options(self.path)) if threads is None else None
        raw = self.session.get_modelmeta().custom_metadata_map.get("heatmark")
        if raw is None:
            raise DataError(self.path, "ONNX model has no heatmark description",
                            "export it with heatmark export, which stores one")
        self.meta = json.loads(raw)
        self.input_size = int(self.meta["input_size"])
        self.scheme = Scheme.from_dict(self.meta["scheme"], source=str(self.path))
        self.codec = NumpyCodec(self.meta["codec"], self.input_size)
        self.flip, self.decoder = flip, decoder
        self._flip_index = self.scheme.flip_index

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The raw network output (heatmaps (N, K, H, W) or coordinates) for float crops ``x`` (N, 3, S, S) in
        [0, 1]."""
        feeds = {"image": np.ascontiguousarray(x, np.float32)}
        if len(x) > 1 or self.single_face is None:
            return self.session.run(None, feeds)[0]
        return self.single_face.run(feeds)[0]

    def __call__(self, x: np.ndarray, flip: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Float crops ``x`` (N, 3, S, S) in [0, 1] → points (N, K, 2) float64 in crop pixels, scores (N, K).
        ``flip``: flip test-time augmentation for this call (None: the predictor's setting)."""
        pts, scores = self.codec.decode(self.forward(x), self.decoder)
        if self.flip if flip is None else flip:  # the mean with the mirrored prediction (as codecs.tta makes it)
            fp, fs = self.codec.decode(self.forward(x[..., ::-1]), self.decoder)
            fp = fp[:, self._flip_index].copy()
            fp[..., 0] = x.shape[-1] - fp[..., 0]
            pts, scores = (pts + fp) / 2, (scores + fs[:, self._flip_index]) / 2
        pts = pts.astype(np.float64)
        if self.codec.point_offset is not None:  # the label-bias correction, after flip averaging
            pts = pts + np.asarray(self.codec.point_offset, np.float64)
        return pts, scores

    def run_crops(self, crops: np.ndarray, flip: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks of crops already cut to the model's input.

        Args:
            crops: (N, S, S, 3) uint8 RGB crops, S = ``input_size``.
            flip: flip test-time augmentation for this call (None: the predictor's setting).

        Returns:
            Points (N, K, 2) float64 in crop pixels (continuous coordinates) and scores (N, K).
        """
        # the uint8 transposed first, then one float32 array scaled in place: ~0.05 ms less per 192-px face than
        # converting the strided view and dividing into a new array that forward() then copies again
        x = np.ascontiguousarray(np.asarray(crops).transpose(0, 3, 1, 2)).astype(np.float32)
        x *= np.float32(1 / 255)
        return self(x, flip)
