"""torchvision on a CPU-only torch: the fallback path and the native path."""

import subprocess
import sys

import torch

from heatmark import _compat


def _brute_nms(boxes, scores, thr):
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    keep = []
    for i in order:
        ok = True
        for j in keep:
            x1, y1 = max(boxes[i, 0], boxes[j, 0]), max(boxes[i, 1], boxes[j, 1])
            x2, y2 = min(boxes[i, 2], boxes[j, 2]), min(boxes[i, 3], boxes[j, 3])
            inter = max(0.0, float(x2 - x1)) * max(0.0, float(y2 - y1))
            a = lambda k: float((boxes[k, 2] - boxes[k, 0]) * (boxes[k, 3] - boxes[k, 1]))  # noqa: E731
            if inter / (a(i) + a(j) - inter) > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


def test_nms_reference_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(40, 2, generator=g) * 100
    wh = torch.rand(40, 2, generator=g) * 40 + 1
    boxes = torch.cat([xy, xy + wh], 1)
    scores = torch.rand(40, generator=g)
    for thr in (0.1, 0.3, 0.7):
        assert _compat.nms_reference(boxes, scores, thr).tolist() == _brute_nms(boxes, scores, thr)
    assert _compat.nms_reference(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0


BOXES = "b = torch.tensor([[0,0,10,10],[1,1,11,11],[50,50,60,60.]]); s = torch.tensor([.9,.8,.7])\n"


def _fresh_python(code: str) -> str:
    """stdout of ``code`` in a fresh interpreter (imports happen in the order the code gives)."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_torchvision_smp_timm_import_and_nms_op_works():
    # a fresh interpreter: importing heatmark first must make these imports work
    stdout = _fresh_python("import heatmark, torch, torchvision, timm, segmentation_models_pytorch as smp\n"
                           "from heatmark import _compat\n" + BOXES
                           + "print(_compat._STATE, torch.ops.torchvision.nms(b, s, 0.5).tolist())\n")
    state, kept = stdout.split(maxsplit=1)
    assert state in ("native", "fallback")
    assert kept.strip() == "[0, 2]"


def test_native_ops_are_left_alone(monkeypatch):
    """When the compiled op exists, nothing is registered."""
    calls = []
    monkeypatch.setattr(_compat, "_STATE", None)
    monkeypatch.setattr(_compat, "_has_native_nms", lambda: True)
    monkeypatch.setattr(_compat, "_register_fallback", lambda: calls.append(1))
    assert _compat.ensure_torchvision_ops() == "native"
    assert calls == []


def test_fallback_registered_when_native_missing(monkeypatch):
    calls = []
    monkeypatch.setattr(_compat, "_STATE", None)
    monkeypatch.setattr(_compat, "_has_native_nms", lambda: False)
    monkeypatch.setattr(_compat, "_try_load_native", lambda: False)
    monkeypatch.setattr(_compat, "_register_fallback", lambda: calls.append(1))
    assert _compat.ensure_torchvision_ops() == "fallback"
    assert calls == [1]


def test_torchvision_ops_nms_and_batched_nms_work_after_import_heatmark():
    """The shim's claim, held: torchvision.ops.nms and batched_nms give the reference answer (issue 21, item 14)."""
    stdout = _fresh_python("import heatmark, torch\nfrom torchvision.ops import nms, batched_nms\n" + BOXES
                           + "print(nms(b, s, 0.5).tolist(),"
                           + " batched_nms(b, s, torch.tensor([0, 1, 0]), 0.5).tolist())\n")
    assert stdout.strip() == "[0, 2] [0, 1, 2]"
