"""heatmark.onnx_graph: a U-Net's computed Resize sizes become constant scales, outputs unchanged."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")


def _ops(path) -> list[str]:
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def _run(path, x):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]


def test_smp_unet_export_has_static_resizes_and_the_same_outputs(tmp_path):
    """The exported U-Net (smp resizes each map to its skip's size) reads no shapes; its outputs match torch at
    batch sizes other than the export's."""
    import torch

    from heatmark.export import export_onnx
    from heatmark.models import create_model

    torch.manual_seed(0)
    model = create_model("heatmap", "mobilenet_v2", 68, arch="unet", stride=4,
                         decoder_channels=[32, 16, 8, 8, 8]).eval()
    path = export_onnx(model, 64, tmp_path / "unet.onnx")
    ops = _ops(path)
    assert ops.count("Resize") == 3 and "Shape" not in ops and "Gather" not in ops
    x = np.random.default_rng(0).random((3, 3, 64, 64), dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(_run(path, x), expected, atol=1e-5)


def test_static_resizes_changes_only_computed_sizes(tmp_path):
    """A graph whose Resize already has constant scales (or none at all) is left as it was."""
    import torch

    from heatmark.onnx_graph import static_resizes

    class Up(torch.nn.Module):
        def forward(self, image):
            return torch.nn.functional.interpolate(image, scale_factor=2.0, mode="nearest")

    path = tmp_path / "up.onnx"
    torch.onnx.export(Up(), (torch.rand(1, 3, 8, 8),), str(path), input_names=["image"], output_names=["output"],
                      dynamic_axes={"image": {0: "batch"}}, opset_version=17, dynamo=False)
    before = path.read_bytes()
    assert static_resizes(path, 8) == 0
    assert path.read_bytes() == before


def test_static_resizes_rewrites_a_size_taken_from_another_tensor(tmp_path):
    """Resize(x, size=skip.shape) → constant scales; the shape arithmetic is gone and the output is the same."""
    import torch

    from heatmark.onnx_graph import static_resizes

    class Skip(torch.nn.Module):
        def forward(self, image):
            small = torch.nn.functional.avg_pool2d(image, 4)
            up = torch.nn.functional.interpolate(small, size=image.shape[-2:], mode="nearest")
            return torch.cat([up, image], 1)

    path = tmp_path / "skip.onnx"
    torch.onnx.export(Skip(), (torch.rand(1, 3, 16, 16),), str(path), input_names=["image"],
                      output_names=["output"], dynamic_axes={"image": {0: "batch"}, "output": {0: "batch"}},
                      opset_version=17, dynamo=False)
    x = np.random.default_rng(1).random((2, 3, 16, 16), dtype=np.float32)
    before = _run(path, x)
    assert "Shape" in _ops(path)
    assert static_resizes(path, 16) == 1
    assert "Shape" not in _ops(path)
    np.testing.assert_array_equal(_run(path, x), before)


def test_static_resizes_keeps_a_computed_size_that_a_float32_scale_would_miss(tmp_path):
    """11 → 13 pixels: 11 × float32(13/11) floors to 12, so that Resize keeps its computed size (outputs
    unchanged)."""
    import torch

    from heatmark.onnx_graph import static_resizes

    class Odd(torch.nn.Module):
        def forward(self, image):
            small = image[..., 1:12, 1:12]  # 13 → 11
            return torch.nn.functional.interpolate(small, size=image.shape[-2:], mode="nearest") + image

    path = tmp_path / "odd.onnx"
    torch.onnx.export(Odd(), (torch.rand(1, 3, 13, 13),), str(path), input_names=["image"], output_names=["output"],
                      dynamic_axes={"image": {0: "batch"}, "output": {0: "batch"}}, opset_version=17, dynamo=False)
    x = np.random.default_rng(2).random((2, 3, 13, 13), dtype=np.float32)
    before = _run(path, x)
    assert "Resize" in _ops(path) and static_resizes(path, 13) == 0
    np.testing.assert_array_equal(_run(path, x), before)
