"""Typed configs: a pydantic model per section, so that a bad value stops a run before anything is built.

:func:`validate_config` checks a merged config dict (``heatmark.config``): types, ranges and enums of every
fixed key, cross-field rules (heatmap stride vs input size, model stride vs codec stride), and the free-form
sections through the factories that own them (model options, codec, loss params, augmentation, aux). The
error names the key, the bad value and what is valid. The dict itself is returned unchanged (run keys of the
benchmark grid hash it).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from heatmark.errors import ConfigError

DATASET_NAMES = Literal["facesynthetics", "300w", "wflw", "cofw", "folder", "dlib", "coco", "cuhk", "mtfl"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class Source(_Section):
    dataset: DATASET_NAMES
    root: str
    ratio: float = Field(1.0, gt=0)
    scheme: str | None = None
    limit: int | None = Field(None, ge=1)
    relabel: Literal["silhouette"] | None = None


class ValSource(_Section):
    dataset: DATASET_NAMES
    root: str
    scheme: str | None = None


class DataConfig(_Section):
    train: list[Source] = Field(min_length=1)
    val: ValSource | None = None
    scheme: str = "ibug68"
    input_size: int = Field(128, ge=32, le=1024)
    box_scale: float = Field(1.25, gt=0.5, le=4.0)
    cache_dir: str | None = None
    samples_per_epoch: int | None = Field(None, ge=1)
    workers: int = Field(1, ge=0, le=64)
    skip_bad: bool = False

    @field_validator("input_size")
    @classmethod
    def _multiple_of_32(cls, v: int) -> int:
        if v % 32:
            raise ValueError(f"must be a multiple of 32 (the encoders downsample 32x), got {v}")
        return v


class ModelConfig(_Section):
    head: Literal["heatmap", "pip", "regression"] = "heatmap"
    backbone: str = "resnet18"
    options: dict[str, Any] = Field(default_factory=dict)
    in_channels: Literal[1, 3] = 3  # 1: a grey model (colour input converted inside the network)
    # start from these weights (a shipped model's name or a .safetensors file of the same network) instead of a
    # random initialisation; the optimizer and schedule start fresh
    init: str | None = Field(None, min_length=1)
    # load only the tensors of model.init that match this network by name and shape (the others start random)
    init_partial: bool = False
    # start a narrower U-Net decoder from model.init's wider one: each decoder convolution keeps its most important
    # channels (heatmark/models/narrow.py)
    init_narrow: bool = False


class LossConfig(_Section):
    name: str = "awing"
    params: dict[str, Any] = Field(default_factory=dict)


class OptimConfig(_Section):
    lr: float = Field(1e-3, gt=0, le=10)
    weight_decay: float = Field(1e-4, ge=0, le=1)
    batch_size: int = Field(16, ge=1, le=4096)
    epochs: int = Field(30, ge=1)
    max_steps: int | None = Field(None, ge=1)
    warmup_steps: int = Field(100, ge=0)
    min_lr_ratio: float = Field(0.01, ge=0, le=1)
    clip_grad: float | None = Field(5.0, ge=0)
    ema: float | None = Field(None, gt=0, lt=1)
    nan: Literal["stop", "skip"] = "stop"


class EvalConfig(_Section):
    every: int = Field(1, ge=1)
    norm: str = "default"


class DistillConfig(_Section):
    """Knowledge distillation from a heatmap teacher (``heatmark.engine.distill``): a heatmap student of the
    teacher's sizes trains against ``(1 - weight) · label + weight · teacher heatmap``, any other student against
    the teacher's landmarks as a second label weighing ``weight``."""
    teacher: str = Field(min_length=1)  # a shipped model's name or a .safetensors file of a heatmap model
    weight: float = Field(0.5, gt=0, le=1)


class RunConfig(_Section):
    seed: int = Field(0, ge=0)
    data: DataConfig
    model: ModelConfig
    codec: dict[str, Any] = Field(default_factory=dict)
    loss: LossConfig
    aux: dict[str, Any] = Field(default_factory=dict)
    augment: str | dict[str, Any] | None = "full_bg"
    optim: OptimConfig
    eval: EvalConfig
    distill: DistillConfig | None = None

    @model_validator(mode="after")
    def _strides_agree(self) -> RunConfig:
        if self.model.head in ("heatmap", "pip"):
            default = 4 if self.model.head == "heatmap" else 16
            m = self.model.options.get("stride", default)
            c = self.codec.get("stride", default)
            if m != c:
                raise ValueError(f"model.options.stride={m} and codec.stride={c} differ; set both to the same value")
        return self


def _format(e: ValidationError, source: str) -> str:
    lines = []
    for err in e.errors():
        key = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        shown = err["type"] not in ("missing", "model_type") and not isinstance(err.get("input"), dict)
        got = f" (got {err['input']!r})" if shown and "got" not in msg else ""
        lines.append(f"{key}: {msg}{got}" if key else f"{msg}{got}")
    return f"{source}: " + "; ".join(lines)


def _free_form(cfg: dict, parsed: RunConfig, source: str) -> None:
    """The free-form sections, checked by the factories that own them (same errors as at build time)."""
    import inspect

    from heatmark.codecs import create_codec
    from heatmark.data.augment import make_augment_config
    from heatmark.losses import create_loss
    from heatmark.models import HEADS

    def check(key: str, fn) -> None:
        try:
            fn()
        except ConfigError as e:
            raise ConfigError(f"{source}: {key}: {e}") from None

    head = parsed.model.head
    valid = set(inspect.signature(HEADS[head].__init__).parameters) - {"self", "backbone", "num_points"}
    unknown = set(parsed.model.options) - valid
    if unknown:
        raise ConfigError(f"{source}: model.options: unknown option(s) {sorted(unknown)} for the {head} head; "
                          f"valid: {sorted(valid)}")
    check("codec", lambda: create_codec(head, parsed.data.input_size, **parsed.codec))
    check("loss.params", lambda: create_loss(parsed.loss.name, **parsed.loss.params))
    check("augment", lambda: make_augment_config(cfg.get("augment")))
    if parsed.aux:
        unknown = set(parsed.aux) - {"loss", "weight", "params", "beta"}
        if unknown or head != "heatmap":
            raise ConfigError(f"{source}: aux takes loss, weight, params, beta (heatmap head only); "
                              f"got {sorted(parsed.aux)}")
        check("aux", lambda: create_loss(parsed.aux.get("loss", "l1"), **(parsed.aux.get("params") or {})))


def validate_config(cfg: dict, source: str = "config") -> dict:
    """Raise :class:`ConfigError` naming the key, the value and the valid range for anything wrong in ``cfg``;
    return ``cfg`` unchanged."""
    try:
        parsed = RunConfig.model_validate(cfg)
    except ValidationError as e:
        raise ConfigError(_format(e, source)) from None
    _free_form(cfg, parsed, source)
    return cfg
