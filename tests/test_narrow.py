"""``model.init_narrow`` (heatmark/models/narrow.py): a narrower U-Net decoder started from a wider trained one."""

import pytest
import torch

from heatmark.engine.training_utils import describe_init, init_weights
from heatmark.errors import ConfigError
from heatmark.models import create_model
from heatmark.models.narrow import narrow_state

KW = {"arch": "unet", "stride": 4, "trim_encoder": True}


def _net(channels, **kw):
    return create_model("heatmap", "mobilenet_v2", 5, decoder_channels=channels, **KW, **kw).eval()


def _randomise_norms(net, seed=0):
    """Trained-looking batch norms (a fresh network's are all γ=1, β=0, mean 0, var 1)."""
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            for t in (m.weight.data, m.bias.data, m.running_mean):
                t.copy_(torch.randn(t.shape, generator=g) * 0.3 + (1.0 if t is m.weight.data else 0.0))
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    torch.nn.init.normal_(net.head.weight, std=0.1, generator=g)


def test_same_widths_give_the_same_network():
    wide = _net([16, 8, 8, 8, 8])
    _randomise_norms(wide)
    same = _net([16, 8, 8, 8, 8])
    state, sliced = narrow_state(wide.state_dict(), same)
    assert sliced == []
    same.load_state_dict(state)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(wide(x), same(x))


def test_removing_dead_channels_keeps_the_output():
    """Channels whose batch norm outputs zero (γ = β = 0, so ReLU gives 0) contribute nothing; the narrowed network
    keeps exactly the live ones, so its heatmaps equal the wide network's. Exercises the concatenated input of every
    block (the upsampled part is sliced, the skip part kept) and the head."""
    wide, narrow = _net([16, 12, 10, 8, 8]), _net([6, 5, 4, 8, 8])
    _randomise_norms(wide)
    g = torch.Generator().manual_seed(1)
    live = {}
    for i, block in enumerate(wide.decoder.blocks):
        for name, width in (("conv1", narrow.decoder.blocks[i].conv1[0].out_channels),
                            ("conv2", narrow.decoder.blocks[i].conv2[0].out_channels)):
            bn = getattr(block, name)[1]
            keep = torch.randperm(bn.num_features, generator=g)[:width].sort().values
            dead = torch.ones(bn.num_features, dtype=torch.bool)
            dead[keep] = False
            bn.weight.data[dead] = 0
            bn.bias.data[dead] = 0
            live[(i, name)] = keep
    state, sliced = narrow_state(wide.state_dict(), narrow)
    narrow.load_state_dict(state)
    assert "head.weight" in sliced and "decoder.blocks.0.conv1.0.weight" in sliced
    assert not any(k.startswith("encoder.") for k in sliced)
    assert torch.equal(state["decoder.blocks.1.conv2.1.weight"],
                       wide.state_dict()["decoder.blocks.1.conv2.1.weight"][live[(1, "conv2")]])
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(narrow(x), wide(x), rtol=1e-5, atol=1e-6)


def test_refusals_name_the_option(tmp_path):
    wide = _net([8, 8, 8, 8, 8])
    too_wide = r"init_narrow: decoder\.blocks\.0\.conv1\.0\.weight has 16 output .* only 8.* or narrower"
    with pytest.raises(ConfigError, match=too_wide):
        narrow_state(wide.state_dict(), _net([16, 8, 8, 8, 8]))
    with pytest.raises(ConfigError, match="init_narrow: the weights have 3 decoder blocks, this network 2"):
        narrow_state(wide.state_dict(), create_model("heatmap", "mobilenet_v2", 5, decoder_channels=[8, 8, 8, 8, 8],
                                                     **{**KW, "stride": 8}))
    with pytest.raises(ConfigError, match="init_narrow works with heatmap models of arch unet"):
        narrow_state(wide.state_dict(), create_model("heatmap", "resnet18", 5, arch="fpn"))
    with pytest.raises(ConfigError, match="head kernel"):
        narrow_state(wide.state_dict(), _net([4, 4, 4, 8, 8], head_kernel=1))


def test_init_weights_records_the_sliced_tensors(tmp_path):
    from heatmark.checkpoint import save_tensors

    wide = _net([16, 8, 8, 8, 8])
    _randomise_norms(wide)
    path = tmp_path / "wide.safetensors"
    save_tensors(path, {f"model.{k}": v for k, v in wide.state_dict().items()}, {})
    narrow = _net([8, 8, 8, 8, 8])
    record = init_weights(narrow, str(path), narrow=True)
    assert record["narrowed"][0] == "decoder.blocks.0.conv1.0.weight"
    assert describe_init(record).endswith(f"; {len(record['narrowed'])} decoder tensors narrowed")
    first = "encoder.features.0.0.weight"
    assert torch.equal(narrow.state_dict()[first], wide.state_dict()[first])
    with pytest.raises(ConfigError, match="does not fit"):  # without the option a narrower decoder is refused
        init_weights(_net([8, 8, 8, 8, 8]), str(path))
