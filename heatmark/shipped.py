"""The models shipped in the package (``heatmark/weights``): their names, files, cards and label adapters.

Needs neither torch nor onnxruntime: the CLI and :class:`heatmark.Landmarker` resolve names here.
"""

from __future__ import annotations

import json
from pathlib import Path

from heatmark.errors import ConfigError, HeatmarkError

WEIGHTS_DIR = Path(__file__).parent / "weights"


# names of earlier releases → the shipped model that replaces them
ALIASES = {"mixing": "default"}


def shipped_models() -> list[str]:
    """Names of the models shipped in the package, sorted: ``default`` (the most accurate, trained with real
    labels), ``synthetic`` (trained without real landmark labels) and any other tier. Each is a ``.safetensors``
    file (training, torch) and an ONNX file (inference without torch) with the same card.

    Examples:
        >>> shipped_models()
        ['default', 'synthetic']
    """
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))


def shipped_cards() -> dict[str, dict]:
    """Each shipped model's card (training data and terms, config, AFW accuracy, speed, size), read from
    ``weights/NAME.json``; an empty dict for a model without one. ``heatmark models`` prints them.

    Examples:
        >>> accuracy = shipped_cards()["default"].get("accuracy", {})
        >>> accuracy.get("nme")          # AFW NME %, ground-truth boxes
    """
    cards = {}
    for name in shipped_models():
        side = WEIGHTS_DIR / f"{name}.json"
        cards[name] = json.loads(side.read_text()).get("card", {}) if side.is_file() else {}
    return cards


def default_weights(variant: str = "default") -> Path:
    variant = ALIASES.get(variant, variant) if variant not in shipped_models() else variant
    path = WEIGHTS_DIR / f"{variant}.safetensors"
    if not path.is_file():
        raise HeatmarkError(f"no shipped model {variant!r} in {WEIGHTS_DIR} (available: {shipped_models() or 'none'}); "
                            "pass weights=PATH to a .safetensors file trained with heatmark")
    return path


def training_weights(value: str, key: str) -> Path:
    """The ``.safetensors`` file that config key ``key`` names (``model.init``, ``distill.teacher``): a shipped
    model's name or a path; a file of another kind or a missing file is refused, naming the key."""
    path = resolve_weights(value)
    fix = "give a shipped model's name or the path of a heatmark training run's final.safetensors"
    if path.suffix != ".safetensors":
        raise ConfigError(f"{key}: {path} is not a .safetensors weights file; {fix}")
    if not path.is_file():
        raise ConfigError(f"{key}: {path} not found; {fix}")
    return path


def resolve_weights(weights: str | Path | None) -> Path:
    """The file behind a ``weights`` argument.

    Args:
        weights: None (the shipped ``default``), a shipped model's name (``"synthetic"``; an alias such as
            ``"mixing"``), which wins even when a file or folder of that name sits in the working directory (write
            ``./synthetic`` for that), or a path to a ``.safetensors`` / ``.onnx`` file.

    Returns:
        The path (a user path is not checked here; the loader names a missing file).

    Raises:
        HeatmarkError: a bare name that is no shipped model (the message lists those available).

    Examples:
        >>> resolve_weights("synthetic").name
        'synthetic.safetensors'
    """
    if weights is None or str(weights) == "":
        return default_weights()
    s = str(weights)
    if isinstance(weights, str) and (s in shipped_models() or s in ALIASES):
        return default_weights(s)
    if "/" not in s and "\\" not in s and not s.endswith((".safetensors", ".onnx")) and not Path(s).exists():
        return default_weights(s)
    return Path(weights)


def shipped_onnx(weights: Path) -> Path | None:
    """The ONNX file to run for ``weights`` without torch: the file itself if it is ``.onnx``, the shipped
    ``NAME.int8.onnx`` or ``NAME.onnx`` beside a shipped ``NAME.safetensors``, else None."""
    if weights.suffix.lower() == ".onnx":
        return weights
    if weights.parent.resolve() != WEIGHTS_DIR.resolve():
        return None
    # an int8 file ships only where it lost <= 0.1 NME points and was faster (its card says so)
    for onnx in (weights.with_suffix(".int8.onnx"), weights.with_suffix(".onnx")):
        if onnx.is_file():
            return onnx
    return None


def resolve_adapter(adapter: str | Path, weights: Path) -> Path:
    """A label adapter file, or the name of one shipped with a shipped model (``"300w"`` for ``synthetic``:
    ``heatmark/weights/synthetic.300w-adapter.npz``)."""
    s = str(adapter)
    if "/" in s or "\\" in s or s.endswith(".npz") or Path(s).exists():
        return Path(adapter)
    shipped = WEIGHTS_DIR / f"{Path(weights).name.split('.')[0]}.{s}-adapter.npz"
    if shipped.is_file():
        return shipped
    have = sorted(p.name for p in WEIGHTS_DIR.glob("*-adapter.npz"))
    raise HeatmarkError(f"no shipped label adapter {s!r} for {Path(weights).name} (shipped adapters: "
                        f"{have or 'none'}); pass the path of an .npz file from heatmark adapt")


def shadowed_name(weights: str | Path | None) -> str | None:
    """A note when ``weights`` names a shipped model and a local file or folder of that name exists too."""
    if isinstance(weights, str) and (weights in shipped_models() or weights in ALIASES) and Path(weights).exists():
        return (f"note: --weights {weights} is the shipped model {default_weights(weights)}; the local "
                f"{'folder' if Path(weights).is_dir() else 'file'} {weights!r} was not used (write ./{weights} for it)")
    return None
