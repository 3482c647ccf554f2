"""The NumPy decoders give the torch decoders' answers (inference without torch decodes the same way)."""

import numpy as np
import pytest
import torch

from heatmark.codecs import HeatmapCodec, RegressionCodec
from heatmark.codecs.numpy_decoders import DECODERS, NumpyCodec


def _heatmaps(seed: int = 0) -> tuple[torch.Tensor, HeatmapCodec]:
    g = torch.Generator().manual_seed(seed)
    codec = HeatmapCodec(input_size=128, stride=4, sigma=1.5)
    pts = torch.rand(4, 68, 2, generator=g) * 124 + 2  # near the borders too
    heat, _ = codec.encode(pts)
    return (heat + 0.02 * torch.rand(heat.shape, generator=g)).float(), codec


@pytest.mark.parametrize("method", list(DECODERS))
def test_numpy_decoders_match_torch(method):
    heat, codec = _heatmaps()
    ref_pts, ref_scores = codec.decode(heat, method)
    np_codec = NumpyCodec({**codec.__dict__, "kind": "heatmap"}, 128)
    pts, scores = np_codec.decode(heat.numpy(), method)
    np.testing.assert_allclose(pts, ref_pts.numpy(), atol=2e-4)
    np.testing.assert_allclose(scores, ref_scores.numpy(), atol=1e-6)


def test_numpy_regression_decode_matches_torch():
    out = torch.rand(3, 68, 2)
    ref, _ = RegressionCodec(input_size=96).decode(out)
    pts, scores = NumpyCodec({"kind": "regression"}, 96).decode(out.numpy())
    np.testing.assert_allclose(pts, ref.numpy(), atol=1e-6)
    assert (scores == 1).all()
