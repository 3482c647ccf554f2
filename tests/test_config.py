from pathlib import Path

import pytest

from heatmark.config import DEFAULTS, apply_overrides, load_config, merge_config, parse_source
from heatmark.engine.recipes import HEAD_RECIPES
from heatmark.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("head", ["heatmap", "pip", "regression"])
def test_shipped_configs_match_recipes(head):
    cfg = load_config(ROOT / "configs" / f"{head}.yaml")
    assert cfg == merge_config(DEFAULTS, HEAD_RECIPES[head])


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "configs").rglob("*.yaml")
                                        if "bench" not in p.relative_to(ROOT).parts))
def test_every_training_config_validates(path):
    """Each training config in configs/ (the shipped recipes and the studies' candidates) passes the schema: a
    renamed option or a mistyped value in one that no test trains is caught here (bench grids have their own)."""
    cfg = load_config(ROOT / path)
    optim = cfg["optim"]
    assert cfg["model"]["head"] and cfg["data"]["input_size"] > 0 and (optim["max_steps"] or optim["epochs"])


def test_unknown_keys_list_valid_ones(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("optim:\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'optim.learning_rate'.*valid keys at optim: \[.*'lr'"):
        load_config(f)
    f.write_text("modle: {}\n")
    with pytest.raises(ConfigError, match="unknown key 'modle'"):
        load_config(f)
    f.write_text("data:\n  train:\n    - {dataset: 300w, path: x}\n")
    with pytest.raises(ConfigError, match="path"):
        load_config(f)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_overrides():
    cfg = apply_overrides(DEFAULTS, ["loss.name=wing", "optim.lr=3e-4", "model.options.stride=2", "optim.ema=null"])
    assert cfg["loss"]["name"] == "wing" and cfg["optim"]["lr"] == 3e-4
    assert cfg["model"]["options"] == {"stride": 2} and cfg["optim"]["ema"] is None
    with pytest.raises(ConfigError, match="unknown key 'optim.lrr'"):
        apply_overrides(DEFAULTS, ["optim.lrr=1"])
    with pytest.raises(ConfigError, match="key.sub=value"):
        apply_overrides(DEFAULTS, ["optim.lr"])


def test_parse_source():
    assert parse_source("300w:/data/helen@0.4") == {"dataset": "300w", "root": "/data/helen", "ratio": 0.4}
    assert parse_source("facesynthetics:a/b")["ratio"] == 1.0
    for bad in ("nocolon", "300w:x@abc", "300w:x@-1"):
        with pytest.raises(ConfigError):
            parse_source(bad)


def test_override_replaces_a_whole_free_form_section_and_merges_inside_it():
    from heatmark.config import apply_overrides, load_config

    cfg = load_config("configs/regression.yaml")
    assert cfg["loss"]["params"] == {"omega": 10.0, "epsilon": 2.0}
    mse = apply_overrides(cfg, ["loss.name=mse", "loss.params={}"])
    assert mse["loss"] == {"name": "mse", "params": {}}  # the wing parameters do not leak into mse
    hm = apply_overrides(load_config("configs/heatmap.yaml"), ["model.options.stride=2"])
    assert hm["model"]["options"] == {"arch": "unet", "stride": 2}
    hm = apply_overrides(load_config("configs/heatmap.yaml"), ["codec.stride=1", "codec.sigma=6.0"])
    assert hm["codec"] == {"stride": 1, "sigma": 6.0, "decoder": "dark"}  # keys inside codec merge too
