"""The documentation's examples run, and its generated reference pages build from the code."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "docs" / "getting-started.md", *sorted((ROOT / "docs" / "guides").glob("*.md"))]


def _python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


BLOCKS = [(p.relative_to(ROOT).as_posix(), i, code) for p in PAGES for i, code in enumerate(_python_blocks(p))]


def test_there_are_examples_to_run():
    assert len(BLOCKS) >= 3 and any(name == "README.md" for name, _, _ in BLOCKS)


@pytest.mark.parametrize("name, index, code", BLOCKS, ids=[f"{n}#{i}" for n, i, _ in BLOCKS])
def test_python_examples_run(name, index, code, tmp_path):
    from heatmark.cli import BUNDLED_PHOTO

    shutil.copy(BUNDLED_PHOTO, tmp_path / "photo.jpg")  # the examples' photo
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{name} block {index} failed:\n{code}\n{r.stderr[-2000:]}"


def test_generated_reference_pages_cover_every_command_and_key():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import mkdocs_hooks
    finally:
        sys.path.pop(0)
    from heatmark.cli import COMMANDS

    cli = mkdocs_hooks.cli_reference()
    assert all(f"## heatmark {c}" in cli for c in COMMANDS) and "### heatmark bench speed" in cli
    cfg = mkdocs_hooks.config_reference()
    assert "`optim.lr`" in cfg and "> 0" in cfg and "`data.input_size`" in cfg
    models = mkdocs_hooks.models_page()
    assert "[`default`](models/default.md)" in models and "AFW NME" in models
    card = json.loads((ROOT / "heatmark" / "weights" / "default.json").read_text())["card"]
    page = mkdocs_hooks.model_page("default", card)
    assert page.startswith("# `default`") and "heatmark.Landmarker()" in page and "## Terms" in page


def test_no_development_history_in_the_project_text():
    texts = [ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md"),
             *(ROOT / "configs").rglob("*.yaml")]
    bad = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in texts
           for m in re.finditer(r"\bsessions? ?\d|session-\d", p.read_text(), flags=re.I)]
    assert not bad, bad


def test_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("material")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300, env={**__import__("os").environ,
                                                                                  "NO_MKDOCS_2_WARNING": "1"})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    assert "Landmarker" in api and ":meth:" not in api and ":class:" not in api  # Sphinx roles rendered as code
    from heatmark.shipped import shipped_cards

    for name, card in shipped_cards().items():  # one page per shipped model, from its card
        page = (tmp_path / "site" / "models" / name / "index.html").read_text()
        assert card["label"].split(":")[0] in page and f"{card['accuracy']['nme']:.2f} %" in page


def test_readme_models_table_comes_from_the_cards():
    """The README's shipped-models table is what tools/update_readme.py writes from the cards."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, str(root / "tools" / "update_readme.py"), "--check"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def _api_reference_objects():
    """Every object the API reference page documents (``::: dotted.name`` lines of docs/reference/api.md)."""
    import importlib
    import re

    page = (ROOT / "docs" / "reference" / "api.md").read_text()
    for dotted in re.findall(r"^::: ([\w.]+)", page, flags=re.M):
        mod, _, attr = dotted.rpartition(".")
        yield dotted, getattr(importlib.import_module(mod), attr)


def _documented_parameters(fn) -> list[str]:
    import inspect

    sig = inspect.signature(fn)
    return [p for p in sig.parameters if p not in ("self", "cls") and sig.parameters[p].kind not in (
        inspect.Parameter.VAR_POSITIONAL,)]


def test_every_public_api_name_documents_parameters_and_has_an_example():
    """The API reference is generated from docstrings: each name on it (and each public method) says what every
    parameter is, and each name shows a short example."""
    import inspect

    missing = []
    for dotted, obj in _api_reference_objects():
        doc = inspect.getdoc(obj) or ""
        if "Examples:" not in doc:  # the Google-style section mkdocstrings renders as code
            missing.append(f"{dotted}: no example")
        init = obj.__init__ if inspect.isclass(obj) else obj
        for p in _documented_parameters(init) if (not inspect.isclass(obj) or "__init__" in vars(obj)
                                                  or hasattr(obj, "__dataclass_fields__")) else []:
            if not re.search(rf"\b{p.lstrip('*')}\b", doc):
                missing.append(f"{dotted}: parameter {p!r} not described")
        if not inspect.isclass(obj):
            continue
        for name, member in vars(obj).items():
            if name.startswith("_") and name != "__call__":
                continue
            fn = member.fget if isinstance(member, property) else getattr(obj, name)
            if not callable(fn):
                continue
            mdoc = inspect.getdoc(fn) or ""
            if not mdoc:
                missing.append(f"{dotted}.{name}: no docstring")
            elif not isinstance(member, property):
                missing += [f"{dotted}.{name}: parameter {p!r} not described"
                            for p in _documented_parameters(fn) if not re.search(rf"\b{p.lstrip('*')}\b", mdoc)]
    assert not missing, "\n".join(missing)
