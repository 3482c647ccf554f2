"""The ``heatmark`` command line: one module per command, each owning its arguments (``add_arguments``) and
its ``run(args)``. Only the module of the command being run is imported, so ``heatmark --help`` loads no
torch. Input errors print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from heatmark.errors import HeatmarkError

# name -> (module, one-line help). Add a command: a module with add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("heatmark.cli.data", "inspect datasets"),
    "train": ("heatmark.cli.train", "train a model (regression or heatmap head)"),
    "eval": ("heatmark.cli.eval", "evaluate weights on an annotated dataset"),
    "predict": ("heatmark.cli.predict", "landmarks on images: annotated PNGs + one JSON per image"),
    "video": ("heatmark.cli.video", "landmarks on a video or camera, with tracking and smoothing"),
    "models": ("heatmark.cli.models", "list the shipped models with their card's numbers"),
    "adapt": ("heatmark.cli.adapt", "fit a label adapter (model convention → a real set's) from real labels"),
    "pseudo-label": ("heatmark.cli.pseudo", "label unannotated photos with a teacher model (self-training)"),
    "filter": ("heatmark.cli.filter", "face filters: glasses, moustache, hat, mask or your own PNG on each face"),
    "viz": ("heatmark.cli.viz", "see inside a model: heatmaps, first-layer filters, training curves, CED"),
    "export": ("heatmark.cli.export", "export weights to ONNX (with a parity check)"),
    "bench": ("heatmark.cli.bench", "benchmarks: decoding, model size and speed, the synthetic→real grid"),
}


def build_parser(commands: list[str] | None = None) -> argparse.ArgumentParser:
    """The full parser (``commands=None``: every command's arguments, e.g. for a CLI reference), or one that
    knows the arguments of the listed commands only (the others are listed with their help line)."""
    from heatmark import __version__

    p = argparse.ArgumentParser(prog="heatmark", description="Facial landmarks trained on synthetic faces.")
    p.add_argument("--version", action="version", version=f"heatmark {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, text) in COMMANDS.items():
        sp = sub.add_parser(name, help=text, description=text)
        if commands is None or name in commands:
            mod = importlib.import_module(module)
            mod.add_arguments(sp)
            sp.set_defaults(_run=mod.run)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    name = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser([name] if name in COMMANDS else [])
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except HeatmarkError as e:
        print(f"heatmark: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("heatmark: interrupted", file=sys.stderr)
        return 130


def __getattr__(name: str):  # BUNDLED_PHOTO and friends, without importing their module up front
    common = importlib.import_module("heatmark.cli.common")
    if hasattr(common, name):
        return getattr(common, name)
    raise AttributeError(f"module 'heatmark.cli' has no attribute {name!r}")
