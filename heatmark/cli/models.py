"""``heatmark models``: the shipped models, from their cards (name, training data, AFW NME, ms/face, size)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(mp: argparse.ArgumentParser) -> None:
    mp.add_argument("--json", action="store_true", help="print the cards as JSON")


def run(args: argparse.Namespace) -> int:
    import json

    from heatmark.cli.common import print_table
    from heatmark.shipped import shipped_cards

    cards = [{"name": name, **card} for name, card in shipped_cards().items()]
    if args.json:
        print(json.dumps(cards, indent=1))
        return 0
    rows = []
    for c in cards:
        acc, speed = c.get("accuracy", {}), c.get("speed", {})
        data = " + ".join(f"{d.get('faces', '?')} {d['dataset']}" for d in c.get("training_data", []))
        if c.get("initialised_from"):  # pretrained weights: say from what, back to the first
            data += f" (from {' ← '.join(init_chain(c['name'], c['initialised_from']))})"
        ms = speed.get("ms_per_face", {})
        rows.append({"name": c["name"], "training data": data or "?", "AFW NME %": acc.get("nme", float("nan")),
                     "w/o jaw %": acc.get("nme_no_jaw", float("nan")),
                     "ms/face (onnx b1)": ms.get("onnx b1", float("nan")), "MB": speed.get("file_mb", float("nan")),
                     "default": "yes" if c["name"] == "default" else ""})
    print_table("shipped models (heatmark/weights; cards: heatmark/weights/NAME.json)", rows,
                {"AFW NME %": ".2f", "w/o jaw %": ".2f", "ms/face (onnx b1)": ".1f", "MB": ".1f"})
    return 0


def init_chain(name: str, init: dict | None) -> list[str]:
    """The weights a card's model started from, then what those started from, ...: shipped names or run folders
    (``RUN/final.safetensors`` → ``RUN``); the model's own name there is its previous release."""
    chain = []
    while init:
        w = Path(init["weights"])  # a shipped name, or a run's RUN/final.safetensors
        n = w.parent.name if w.suffix == ".safetensors" else w.name
        chain.append(f"previous {n}" if n == name else n)
        init = init.get("initialised_from")
    return chain
