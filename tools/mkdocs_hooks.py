"""mkdocs hooks: pages generated at build time from the code, so the reference cannot drift from it.

- ``reference/cli.md``: every command's ``--help``, from the parsers themselves;
- ``reference/config.md``: every config key with its type, default and range, from the typed configs;
- ``models.md`` and ``models/NAME.md``: the shipped models' table and one page per model, from its card
  (``heatmark/weights/*.json``);
- ``changelog.md``: ``CHANGELOG.md``.

It also renders the Sphinx roles of docstrings (``:meth:`predict```), which mkdocstrings leaves as text, as code.
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli_reference() -> str:
    import argparse

    from heatmark.cli import COMMANDS, build_parser

    parser = build_parser()
    out = ["# Command line", "", "Generated from the parsers (`heatmark/cli/`); every command prints the same with "
           "`--help`.", "", "```text", parser.format_help().rstrip(), "```", ""]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in COMMANDS:
        p = sub.choices[name]
        out += [f"## heatmark {name}", "", "```text", p.format_help().rstrip(), "```", ""]
        nested = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        for a in nested:
            for sname, sp in a.choices.items():
                out += [f"### heatmark {name} {sname}", "", "```text", sp.format_help().rstrip(), "```", ""]
    return "\n".join(out)


def _limit(m) -> str:
    """A pydantic/annotated-types constraint as text: ``> 0``, ``≤ 1``, ``at least 1 item``."""
    symbols = {"Gt": ">", "Ge": "≥", "Lt": "<", "Le": "≤"}
    name = type(m).__name__
    if name in symbols:
        return f"{symbols[name]} {getattr(m, name.lower())}"
    if name == "MinLen":
        return f"at least {m.min_length} item(s)"
    return repr(m)


def config_reference() -> str:
    from heatmark.config import DEFAULTS
    from heatmark.config_schema import RunConfig

    out = ["# Configuration keys", "", "Generated from the typed configs (`heatmark/config_schema.py`). "
           "A run's config is the defaults, then a YAML file (`--config`), then `--set key.sub=value` "
           "overrides; everything is validated before anything runs, and an error names the key, the value and "
           "the valid range.", ""]

    def section(model, prefix: str) -> None:
        rows = []
        for name, f in model.model_fields.items():
            ann = f.annotation
            optional = [a for a in typing.get_args(ann) if getattr(a, "model_fields", None) is not None]
            if optional:  # an optional section (``distill: ... | None``): absent unless set; list its keys
                rows.append(f"| `{prefix}{name}` | section | absent | optional: its keys under `{prefix}{name}` |")
                ann = optional[0]
            sub = getattr(ann, "model_fields", None)
            if sub is not None:
                section(ann, f"{prefix}{name}.")
                continue
            limits = ", ".join(_limit(m) for m in f.metadata)
            default = "required" if f.is_required() else repr(f.get_default(call_default_factory=True))
            typ = str(ann).replace("typing.", "").replace("<class '", "").replace("'>", "")
            rows.append(f"| `{prefix}{name}` | `{typ}` | `{default}` | {limits} |")
        if rows:
            out.extend([f"## {prefix.rstrip('.') or 'top level'}", "", "| key | type | default | range |",
                        "| --- | --- | --- | --- |", *rows, ""])

    section(RunConfig, "")
    out += ["Free-form sections (`model.options`, `codec`, `loss.params`, `augment`, `aux`) are checked by the "
            "factory that owns them (the head's signature, `create_codec`, `create_loss`, `make_augment_config`).",
            "", "Defaults as YAML:", "", "```yaml"]
    import yaml

    out += [yaml.safe_dump(DEFAULTS, sort_keys=False).rstrip(), "```", ""]
    return "\n".join(out)


def _optional_rows(card: dict) -> list[str]:
    """Card entries that newer cards have: detector-box accuracy, per-region NME, label-bias offset, int8."""
    rows = []
    det = card.get("accuracy_detector_boxes")
    if det:
        rows.append(f"| AFW with {det['detector']} boxes | NME {det['nme']:.2f} % over the {det['found']} of "
                    f"{det['faces']} faces found (recall {100 * det['detector_recall']:.1f} %) |")
    regions = card.get("accuracy", {}).get("region_nme")
    if regions:
        rows.append("| AFW NME per region | " + ", ".join(f"{k} {v:.2f}" for k, v in regions.items()) + " |")
    off = card.get("point_offset")
    if off:
        rows.append(f"| label-bias offset | fitted on {off['faces']} faces of `{off['root']}` (training labels); "
                    f"mean {off['mean_offset_px']} crop px |")
    q = card.get("int8")
    if q:
        rows.append(f"| int8 (static QDQ) | AFW NME {q['nme_int8']:.2f} % vs {q['nme_fp32_onnx']:.2f} % fp32; "
                    f"{q['ms_per_face_int8_b1']:.2f} vs {q['ms_per_face_fp32_onnx_b1']:.2f} ms/face; "
                    f"{'shipped and used' if q['shipped'] else 'not shipped'} ({q['rule']}) |")
    return rows


def _cards() -> dict[str, dict]:
    return {f.stem: json.loads(f.read_text()).get("card") or {}
            for f in sorted((ROOT / "heatmark" / "weights").glob("*.json"))}


TERMS_NOTE = ("FaceSynthetics (Microsoft C-UDA, non-commercial research) and 300W (research, non-commercial) do not "
              "allow commercial use, and weights trained on them inherit that restriction in practice.")


def model_page(name: str, card: dict) -> str:
    """One shipped model's page, from its card: data and their terms, accuracy, int8, speed, how to use it."""
    acc, speed = card.get("accuracy", {}), card.get("speed", {})
    data = ", ".join(f"{d['dataset']} ({d.get('faces', '?')} faces, ratio {d.get('ratio', 1)})"
                     for d in card.get("training_data", []))
    arg = "" if name == "default" else f'"{name}"'
    out = [f"# `{name}`", "", card.get("label", ""), "", "```python", "import heatmark", "",
           f"lm = heatmark.Landmarker({arg})", "faces = lm.predict(\"photo.jpg\")", "```", "",
           f"Command line: `heatmark predict photo.jpg{'' if name == 'default' else ' --weights ' + name}`.", "",
           "| | |", "| --- | --- |",
           f"| training data | {data} |",
           f"| steps / seed | {card.get('steps', '?')} / {card.get('seed', '?')} |",
           f"| AFW NME (GT boxes) | {acc.get('nme', float('nan')):.2f} % |",
           f"| AFW NME without the jaw | {acc.get('nme_no_jaw', float('nan')):.2f} % |",
           f"| FR@0.10 / AUC@0.10 | {acc.get('fr@0.10', float('nan')):.1f} % / "
           f"{acc.get('auc@0.10', float('nan')):.1f} % |",
           *_optional_rows(card),
           f"| ms/face (landmark stage) | {', '.join(f'{k} {v:.1f}' for k, v in speed.get('ms_per_face', {}).items())}"
           " |",
           f"| parameters / file | {speed.get('params_m', 0):.2f} M / {speed.get('file_mb', 0):.1f} MB |",
           f"| trained by | `{card.get('train_command', '')}` |",
           f"| packaged by | `{card.get('package_command', '')}` |",
           f"| code commit | `{card.get('trained_commit', card.get('commit', ''))}` |", "",
           f"Measured with `{acc.get('command', '')}` and `{speed.get('command', '')}` ({card.get('measured', '')}; "
           f"{speed.get('machine', '')}).", "", "## Terms", ""]
    out += [f"- {d['dataset']}: {d['terms']}" for d in card.get("training_data", []) if d.get("terms")]
    out += [f"- The weights: {card.get('weights_terms', TERMS_NOTE)}", ""]
    return "\n".join(out)


def models_page() -> str:
    out = ["# Shipped models", "", "Generated from each model's card (`heatmark/weights/NAME.json`). "
           "AFW is 300W's AFW subset (337 faces, ground-truth boxes, NME normalised by the outer eye corners).", "",
           "| model | trained on | AFW NME % | w/o jaw % | ms/face (onnx, batch 1) |",
           "| --- | --- | ---: | ---: | ---: |"]
    for name, card in _cards().items():
        acc, ms = card.get("accuracy", {}), card.get("speed", {}).get("ms_per_face", {})
        out.append(f"| [`{name}`](models/{name}.md) | {card.get('label', '')} | {acc.get('nme', float('nan')):.2f} | "
                   f"{acc.get('nme_no_jaw', float('nan')):.2f} | {ms.get('onnx b1', float('nan')):.1f} |")
    out += ["", TERMS_NOTE, ""]
    return "\n".join(out)


def on_files(files, config):
    from mkdocs.structure.files import File

    pages = {"reference/cli.md": cli_reference(), "reference/config.md": config_reference(),
             "models.md": models_page(), "changelog.md": (ROOT / "CHANGELOG.md").read_text(),
             **{f"models/{name}.md": model_page(name, card) for name, card in _cards().items()}}
    for uri, content in pages.items():
        files.append(File.generated(config, uri, content=content))
    return files


SPHINX_ROLE = re.compile(r":(?:meth|class|func|data|attr|mod|obj):(<code>[^<]*</code>)")


def on_page_content(html, page, config, files):
    """``:meth:<code>x</code>`` (a Sphinx role in a docstring, as mkdocstrings renders it) → ``<code>x</code>``."""
    return SPHINX_ROLE.sub(r"\1", html)
