"""Compatibility shims that must run before torchvision, timm or smp are imported.

The torchvision wheel on PyPI is linked against CUDA. On a CPU-only torch its compiled
library fails to load, so the operator ``torchvision::nms`` is never defined, and
``import torchvision`` dies in ``torchvision/_meta_registrations.py`` (which registers a
fake kernel for that operator). timm and segmentation-models-pytorch import torchvision,
so they fail too.

:func:`ensure_torchvision_ops` first tries the real compiled library. Only when it is
missing or cannot be loaded does it define ``torchvision::nms`` (and ``qnms``) with a
pure-torch implementation, so a working torchvision (e.g. on a CUDA machine) is never touched.
heatmark uses no torchvision detection op itself; the fallback exists so that the
import succeeds and anything that does call ``nms`` gets correct results.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

_FALLBACK_LIB: torch.library.Library | None = None  # kept alive: dropping it unregisters the op
_STATE: str | None = None


def _has_native_nms() -> bool:
    try:
        torch.ops.torchvision.nms  # noqa: B018 - attribute lookup is the test
    except (AttributeError, RuntimeError):
        return False
    return True


def nms_reference(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression in pure torch (same contract as torchvision.ops.nms).

    boxes: (N, 4) as x1, y1, x2, y2; scores: (N,). Returns the kept indices (int64) sorted
    by decreasing score. The IoU matrix is computed once, vectorised; the greedy pass is a
    loop over kept boxes, which is what NMS is.
    """
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    boxes = boxes.float()
    order = torch.argsort(scores, descending=True)
    b = boxes[order]
    area = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    lt = torch.maximum(b[:, None, :2], b[None, :, :2])
    rb = torch.minimum(b[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    iou = inter / (area[:, None] + area[None, :] - inter).clamp(min=1e-12)
    suppressed = torch.zeros(len(b), dtype=torch.bool, device=b.device)
    keep = []
    for i in range(len(b)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.int64, device=b.device)]


def _try_load_native() -> bool:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    pkg = Path(next(iter(spec.submodule_search_locations)))
    for lib in sorted(pkg.glob("_C*.so")) + sorted(pkg.glob("_C*.pyd")):
        try:
            torch.ops.load_library(str(lib))
        except (OSError, RuntimeError):
            return False
        return _has_native_nms()
    return False


def _qnms_reference(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Quantized NMS: dequantize, then the float reference."""
    return nms_reference(boxes.dequantize(), scores.dequantize(), iou_threshold)


# The operators that torchvision/_meta_registrations.py requires to exist at import time.
_FALLBACK_OPS = {
    "nms": nms_reference,
    "qnms": _qnms_reference,
}


def _register_fallback() -> None:
    global _FALLBACK_LIB
    lib = torch.library.Library("torchvision", "DEF")
    for name, fn in _FALLBACK_OPS.items():
        lib.define(f"{name}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        # Backend kernels only: torchvision registers the Meta (fake) kernels itself.
        for key in ("CPU", "CUDA", "QuantizedCPU"):
            lib.impl(name, fn, key)
    _FALLBACK_LIB = lib


def patch_torchvision_python_ops() -> bool:
    """With the fallback in place, make ``torchvision.ops.nms`` and ``batched_nms`` use it: torchvision's
    Python wrappers refuse to run (``_assert_has_ops``) when its compiled library failed to load, even though
    the operator now exists. Only these two wrappers are patched; other compiled ops (roi_align, ...) still say
    they are missing. Returns whether anything was patched."""
    if _STATE != "fallback":
        return False
    from torchvision.ops import boxes

    def nms(boxes_: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
        if boxes_.is_quantized:
            return torch.ops.torchvision.qnms(boxes_.int_repr(), scores.int_repr(), iou_threshold)
        return torch.ops.torchvision.nms(boxes_, scores, iou_threshold)

    nms.__doc__ = boxes.nms.__doc__
    boxes.nms = nms  # batched_nms calls the module's nms
    import torchvision.ops

    torchvision.ops.nms = nms
    return True


def ensure_torchvision_ops() -> str:
    """Make ``import torchvision`` work. Returns ``"native"``, ``"fallback"`` or ``"absent"``."""
    global _STATE
    if _STATE is not None:
        return _STATE
    if _has_native_nms() or _try_load_native():
        _STATE = "native"
    elif importlib.util.find_spec("torchvision") is None:
        _STATE = "absent"
    else:
        _register_fallback()
        _STATE = "fallback"
    return _STATE


ensure_torchvision_ops()
