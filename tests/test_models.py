"""Every backbone × head builds and runs forward + backward on a 128×128 batch on CPU."""

import pytest
import torch

from heatmark.errors import ConfigError
from heatmark.models import BACKBONES, create_model


@pytest.mark.parametrize("backbone", BACKBONES)
def test_regression_backbones(backbone):
    m = create_model("regression", backbone, num_points=68)
    x = torch.rand(2, 3, 128, 128)
    y = m(x)
    assert y.shape == (2, 68, 2)
    y.sum().backward()
    assert all(p.grad is not None for p in m.parameters() if p.requires_grad)
    # training starts from the crop centre (train mode: BatchNorm uses batch statistics)
    assert torch.allclose(y.detach(), torch.full_like(y, 0.5), atol=0.02)


@pytest.mark.parametrize("arch", ["unet", "fpn"])
@pytest.mark.parametrize("stride", [1, 2, 4])
def test_heatmap_archs_and_strides(arch, stride):
    m = create_model("heatmap", "resnet18", num_points=5, arch=arch, stride=stride)
    y = m(torch.rand(2, 3, 128, 128))
    assert y.shape == (2, 5, 128 // stride, 128 // stride)
    y.square().mean().backward()


@pytest.mark.parametrize("arch", ["unet", "fpn"])
@pytest.mark.parametrize("backbone", BACKBONES)
def test_heatmap_every_backbone(backbone, arch):
    # "xception" here is smp's Xception encoder (ReLU); the LeakyReLU one is the regression backbone
    m = create_model("heatmap", backbone, num_points=68, arch=arch, stride=4)
    y = m(torch.rand(1, 3, 128, 128))
    assert y.shape == (1, 68, 32, 32)
    y.mean().backward()


def test_generic_smp_arch_pooled_to_stride():
    m = create_model("heatmap", "resnet18", num_points=3, arch="linknet", stride=4)
    assert m(torch.rand(1, 3, 64, 64)).shape == (1, 3, 16, 16)


def test_custom_point_count_and_config_round_trip():
    m = create_model("regression", "mobilenetv3_small", num_points=1, hidden=32)
    assert m(torch.rand(1, 3, 64, 64)).shape == (1, 1, 2)
    again = create_model(**m.config)
    assert again.config == m.config
    assert sum(p.numel() for p in again.parameters()) == sum(p.numel() for p in m.parameters())


def test_xception_options_and_mean_shape():
    m = create_model("regression", "xception", num_points=3, backbone_kw={"width": 0.25, "middle_blocks": 2})
    m.init_mean_shape(torch.tensor([[0.3, 0.4], [0.7, 0.4], [0.5, 0.8]]))
    m.eval()
    with torch.no_grad():
        out = m(torch.rand(1, 3, 64, 64))
    assert torch.allclose(out[0, 2], torch.tensor([0.5, 0.8]), atol=0.05)


def test_bad_model_options():
    with pytest.raises(ConfigError, match="unknown head"):
        create_model("transformer")
    with pytest.raises(ConfigError, match="unknown option"):
        create_model("heatmap", "resnet18", strid=4)
    with pytest.raises(ConfigError, match="unknown backbone"):
        create_model("regression", "resnet1000")
    with pytest.raises(ConfigError, match="stride"):
        create_model("heatmap", "resnet18", stride=16)
    with pytest.raises(ConfigError, match="stride 8 needs arch unet"):
        create_model("heatmap", "resnet18", arch="fpn", stride=8)


def test_unet_heatmaps_at_stride_8():
    import torch

    m = create_model("heatmap", "mobilenetv3_small", 68, stride=8, decoder_channels=[64, 32, 24, 16, 8]).eval()
    with torch.no_grad():
        assert m(torch.zeros(1, 3, 128, 128)).shape == (1, 68, 16, 16)


def test_trim_encoder_narrows_the_first_decoder_block():
    """``trim_encoder``: MobileNetV2 without its 320 → 1280 expansion; the first decoder block takes 320 + 96
    channels; the heatmaps keep their shape; other backbones are refused naming the option."""
    kw = {"stride": 4, "decoder_channels": [128, 64, 32, 16, 8]}
    full = create_model("heatmap", "mobilenet_v2", 68, **kw).eval()
    trim = create_model("heatmap", "mobilenet_v2", 68, trim_encoder=True, **kw).eval()
    assert trim.decoder.blocks[0].conv1[0].in_channels == 320 + 96
    assert full.decoder.blocks[0].conv1[0].in_channels == 1280 + 96
    assert isinstance(trim.encoder.features[-1], torch.nn.Identity)
    with torch.no_grad():
        assert trim(torch.zeros(2, 3, 128, 128)).shape == full(torch.zeros(2, 3, 128, 128)).shape == (2, 68, 32, 32)
    own = trim.state_dict()
    shared = {k for k, v in full.state_dict().items() if k in own and own[k].shape == v.shape}
    assert set(full.state_dict()) - shared == {k for k in full.state_dict() if k.startswith("encoder.features.18.")} | {
        "decoder.blocks.0.conv1.0.weight"}
    assert create_model(**trim.config).decoder.blocks[0].conv1[0].in_channels == 416  # rebuilt from its config
    with pytest.raises(ConfigError, match="trim_encoder works with backbone mobilenet_v2.*not 'resnet18'"):
        create_model("heatmap", "resnet18", 68, trim_encoder=True)


def test_separable_decoder_and_1x1_head():
    """``separable_decoder``: each 3×3 convolution of the kept Unet blocks becomes depthwise 3×3 + pointwise 1×1 (the
    BatchNorm after it keeps its name, so it loads from an unfactorised network); ``head_kernel: 1`` a 1×1 output.
    Same heatmap shape, fewer parameters; wrong uses are refused naming the option."""
    kw = {"stride": 4, "decoder_channels": [128, 64, 32, 16, 8], "trim_encoder": True}
    plain = create_model("heatmap", "mobilenet_v2", 68, **kw).eval()
    sep = create_model("heatmap", "mobilenet_v2", 68, separable_decoder=True, head_kernel=1, **kw).eval()
    for block in sep.decoder.blocks:
        for conv in (block.conv1[0], block.conv2[0]):
            dw, pw = conv
            assert dw.groups == dw.in_channels == dw.out_channels and dw.kernel_size == (3, 3)
            assert pw.kernel_size == (1, 1)
    assert sep.decoder.blocks[0].conv1[0][0].in_channels == 416
    assert sep.head.kernel_size == (1, 1) and plain.head.kernel_size == (3, 3)
    with torch.no_grad():
        assert sep(torch.zeros(2, 3, 160, 160)).shape == plain(torch.zeros(2, 3, 160, 160)).shape == (2, 68, 40, 40)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(sep) < 0.8 * count(plain)
    own = sep.state_dict()
    assert "decoder.blocks.2.conv2.1.running_mean" in own and "encoder.features.0.0.weight" in own
    assert create_model(**sep.config).head.kernel_size == (1, 1)  # rebuilt from its config
    with pytest.raises(ConfigError, match="separable_decoder works with arch unet"):
        create_model("heatmap", "resnet18", 68, arch="fpn", separable_decoder=True)
    with pytest.raises(ConfigError, match="head_kernel must be 1 or 3"):
        create_model("heatmap", "mobilenet_v2", 68, head_kernel=5)
