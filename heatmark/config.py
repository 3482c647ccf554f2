"""Run configuration: small YAML files merged onto defaults, with ``--set key.sub=value`` overrides.

Every key must exist in :data:`DEFAULTS` (unknown keys are an error listing the valid ones), except inside
the free-form sections ``model.options``, ``codec``, ``loss.params``, ``augment`` and ``aux``, which the
model, codec, loss and augmentation factories validate themselves, and the optional keys of :data:`OPTIONAL`
(``model.in_channels``; ``model.init``: start from a trained model's weights; ``distill: {teacher: default,
weight: 0.5}``: knowledge distillation from a trained heatmap model).
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from heatmark.errors import ConfigError

DEFAULTS: dict = {
    "seed": 0,
    "data": {
        "train": [{"dataset": "facesynthetics", "root": "../shared/data/facesynthetics_100", "ratio": 1.0}],
        "val": {"dataset": "300w", "root": "../shared/data/300w_afw"},
        "scheme": "ibug68",  # the model's landmark scheme
        "input_size": 128,
        "box_scale": 1.25,  # crop side / landmark box side
        "cache_dir": None,  # None: ~/.cache/heatmark/crops (HEATMARK_CACHE overrides)
        "samples_per_epoch": None,  # None: the size of the training set(s)
        "workers": 1,
        "skip_bad": False,
    },
    "model": {"head": "heatmap", "backbone": "resnet18", "options": {}},
    "codec": {},  # heatmap: stride, sigma, decoder, ...
    "loss": {"name": "awing", "params": {}},
    "aux": {},  # heatmap head only: {loss: l1, weight: 0.1, params: {}} adds a coordinate loss on soft-argmax
    "augment": "full_bg",
    "optim": {
        "lr": 1e-3,
        "weight_decay": 1e-4,
        "batch_size": 16,
        "epochs": 30,
        "max_steps": None,
        "warmup_steps": 100,
        "min_lr_ratio": 0.01,
        "clip_grad": 5.0,
        "ema": None,  # e.g. 0.999
        "nan": "stop",  # stop | skip: what a non-finite loss does
    },
    "eval": {"every": 1, "norm": "default"},
}
FREE_FORM = {("model", "options"), ("codec",), ("loss", "params"), ("augment",), ("aux",)}
# Keys a config may set although DEFAULTS leaves them out (absent = the default), so that adding them changed
# no existing config (benchmark run keys hash the whole config): key path -> default.
OPTIONAL = {("model", "in_channels"): 3, ("model", "init"): None, ("model", "init_partial"): False,
            ("model", "init_narrow"): False, ("distill",): None}
LIST_OF_DICTS = {("data", "train"): {"dataset", "root", "ratio", "scheme", "limit", "relabel"}}


def _check(user: dict, ref: dict, path: tuple[str, ...], source: str) -> None:
    for k, v in user.items():
        here = (*path, k)
        if k not in ref and (*path, k) not in OPTIONAL:
            where = ".".join(path) or "top level"
            raise ConfigError(f"{source}: unknown key {'.'.join(here)!r}; valid keys at {where}: {sorted(ref)}")
        if here in FREE_FORM:
            continue
        if here in LIST_OF_DICTS:
            if not isinstance(v, list):
                raise ConfigError(f"{source}: {'.'.join(here)} must be a list")
            for item in v:
                bad = set(item) - LIST_OF_DICTS[here] if isinstance(item, dict) else {"(not a mapping)"}
                if bad:
                    raise ConfigError(f"{source}: unknown key(s) {sorted(bad)} in {'.'.join(here)}; "
                                      f"valid: {sorted(LIST_OF_DICTS[here])}")
            continue
        if k in ref and isinstance(ref[k], dict) and ref[k]:
            if not isinstance(v, dict):
                raise ConfigError(f"{source}: {'.'.join(here)} must be a mapping with keys {sorted(ref[k])}")
            _check(v, ref[k], here, source)


def merge_config(base: dict, over: dict, into_free_form: bool = False) -> dict:
    """``over`` merged onto ``base``. A free-form top-level section (``codec``, ``aux``) given in a config file
    replaces the default one; an override (``into_free_form=True``: ``codec.stride=1``) merges into it."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        merge = into_free_form or (k,) not in FREE_FORM
        if isinstance(v, dict) and isinstance(out.get(k), dict) and out[k] and merge:
            out[k] = merge_config(out[k], v, into_free_form)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_override(item: str) -> tuple[list[str], object]:
    if "=" not in item:
        raise ConfigError(f"--set expects key.sub=value, got {item!r}")
    key, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str):  # YAML 1.1 reads 3e-4 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    return key.strip().split("."), value


def apply_overrides(cfg: dict, items: list[str], source: str = "--set") -> dict:
    cfg = copy.deepcopy(cfg)
    for item in items:
        keys, value = parse_override(item)
        nested: dict = value
        for k in reversed(keys):
            nested = {k: nested}
        _check(nested, DEFAULTS, (), f"{source} {item}")
        if tuple(keys) in FREE_FORM:  # a whole free-form section (loss.params={}) replaces the old one
            parent = cfg
            for k in keys[:-1]:
                parent = parent.setdefault(k, {})
            parent[keys[-1]] = copy.deepcopy(value)
        else:  # anything else merges (model.options.stride=2 keeps model.options.arch; codec.sigma keeps codec.stride)
            cfg = merge_config(cfg, nested, into_free_form=True)
    return cfg


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> dict:
    """Defaults, then the YAML file (if any), then ``key=value`` overrides. Returns a plain dict."""
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            user = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({e})") from None
        if not isinstance(user, dict):
            raise ConfigError(f"{path}: a config file must be a YAML mapping")
        _check(user, DEFAULTS, (), str(path))
        cfg = merge_config(cfg, user)
    return apply_overrides(cfg, overrides or [])


def validate_config(cfg: dict, source: str = "config") -> dict:
    """Types, ranges and cross-field rules of a merged config (see :mod:`heatmark.config_schema`)."""
    from heatmark.config_schema import validate_config as validate

    return validate(cfg, source)


def parse_source(spec: str) -> dict:
    """``DATASET:ROOT[@RATIO]`` (e.g. ``300w:../data/helen@0.4``) → a data.train entry."""
    if ":" not in spec:
        raise ConfigError(f"a data source is DATASET:ROOT[@RATIO], got {spec!r}")
    name, rest = spec.split(":", 1)
    ratio = 1.0
    if "@" in rest:
        rest, r = rest.rsplit("@", 1)
        try:
            ratio = float(r)
        except ValueError:
            raise ConfigError(f"bad ratio {r!r} in {spec!r}; expected a number like 0.4") from None
        if ratio <= 0:
            raise ConfigError(f"ratio must be > 0 in {spec!r}")
    return {"dataset": name, "root": rest, "ratio": ratio}
