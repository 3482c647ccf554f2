"""Layers point one way: cli → engine/api → models, codecs, losses, data."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "heatmark"
RULES = {  # module (file or folder) → packages it must not import
    "data": ("heatmark.models", "heatmark.engine", "heatmark.cli", "heatmark.api", "heatmark.codecs"),
    "codecs": ("heatmark.models", "heatmark.engine", "heatmark.cli", "heatmark.api"),
    "losses.py": ("heatmark.models", "heatmark.engine", "heatmark.cli", "heatmark.api"),
    "models": ("heatmark.engine", "heatmark.cli", "heatmark.api"),
    "api.py": ("heatmark.engine", "heatmark.cli"),
    "shipped.py": ("heatmark.engine", "heatmark.cli", "heatmark.models", "heatmark.api", "torch"),
    "detect.py": ("heatmark.engine", "heatmark.cli"),
    "refine.py": ("heatmark.engine", "heatmark.cli", "heatmark.models", "heatmark.api", "torch"),
    "video.py": ("heatmark.engine", "heatmark.cli"),
    "export.py": ("heatmark.engine", "heatmark.cli"),
    "checkpoint.py": ("heatmark.engine", "heatmark.cli"),
    "engine": ("heatmark.cli",),
    "atomic.py": ("heatmark.",),
    "errors.py": ("heatmark.",),
    "config.py": ("heatmark.engine", "heatmark.cli", "heatmark.api"),
    "config_schema.py": ("heatmark.engine", "heatmark.cli", "heatmark.api"),
}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


@pytest.mark.parametrize("part", sorted(RULES))
def test_layer_imports(part):
    target = PKG / part
    files = [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))
    assert files
    for f in files:
        for mod in _imports(f):
            assert not mod.startswith(RULES[part]), f"{f.relative_to(PKG)} imports {mod}"
