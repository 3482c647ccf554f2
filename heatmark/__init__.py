"""heatmark: 2D facial landmarks trained on synthetic faces, working on real photos."""

import os as _os
import sys as _sys

__version__ = "0.1.0"

# OpenCV's worker threads spin for a while after each parallel call (a crop, a resize); on a busy machine the
# onnxruntime call that follows then shares the cores with them: Landmarker("default") took 3.43 instead of 2.72 ms
# per face on the 2-core Xeon with two trainings running, and the same (2.56 / 2.60) when idle
# (tools/opencv_spin_check.py; docs/results/release_measurements.txt). OpenCV reads this when cv2 is first
# imported, so it only applies if heatmark is imported first; a value the user set is kept.
_os.environ.setdefault("OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER", "0")


class _TorchvisionShim:
    """Runs the torchvision compatibility shim (``heatmark._compat``) just before torchvision is first imported,
    by anyone: on a CPU-only torch the PyPI torchvision wheel needs it to import at all. ``import heatmark``
    itself stays light (no torch) until then."""

    def find_spec(self, name, path=None, target=None):
        if name != "torchvision":
            return None
        _sys.meta_path.remove(self)
        import importlib.util

        from heatmark import _compat  # imports torch, registers torchvision::nms if missing

        spec = importlib.util.find_spec("torchvision")
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module):  # after torchvision's own import: its nms wrappers use the fallback too
            run(module)
            _compat.patch_torchvision_python_ops()

        spec.loader.exec_module = exec_module
        return spec


if "torchvision" not in _sys.modules and not any(isinstance(f, _TorchvisionShim) for f in _sys.meta_path):
    _sys.meta_path.insert(0, _TorchvisionShim())


def __getattr__(name):  # heatmark.Landmarker without importing torch models at package import
    if name in ("Landmarker", "Face"):
        from heatmark import api

        return getattr(api, name)
    raise AttributeError(f"module 'heatmark' has no attribute {name!r}")
