"""heatmark: 2D facial landmarks trained on synthetic faces, working on real photos."""

from heatmark import _compat  # noqa: F401  (must run before torchvision / timm / smp are imported)

__version__ = "0.1.0"
