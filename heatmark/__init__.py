"""heatmark: 2D facial landmarks trained on synthetic faces, working on real photos."""

from heatmark import _compat  # noqa: F401  (must run before torchvision / timm / smp are imported)

__version__ = "0.1.0"


def __getattr__(name):  # heatmark.Landmarker without importing torch models at package import
    if name in ("Landmarker", "Face"):
        from heatmark import api

        return getattr(api, name)
    raise AttributeError(f"module 'heatmark' has no attribute {name!r}")
