"""Write the README's shipped-models table from the models' cards (heatmark/weights/NAME.json).

    python tools/update_readme.py          # rewrite the table between the markers
    python tools/update_readme.py --check  # exit 1 if the README's table differs from the cards (a test runs it)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- shipped-models:start -->", "<!-- shipped-models:end -->"
ORDER = ["default", "synthetic"]


def table() -> str:
    cards = {}
    for f in (ROOT / "heatmark" / "weights").glob("*.json"):
        card = json.loads(f.read_text()).get("card") or {}
        cards[card.get("name", f.stem)] = card
    rows = ["| model | trained on | AFW NME % | w/o jaw % | with MTCNN boxes % | "
            "ms/face when packaged (onnx, batch 1) | `heatmark eval` command |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for name in sorted(cards, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        c = cards[name]
        acc, det = c.get("accuracy", {}), c.get("accuracy_detector_boxes", {})
        q = c.get("int8", {})
        ms = q["ms_per_face_int8_b1"] if q.get("shipped") else c.get("speed", {}).get("ms_per_face", {}).get("onnx b1")
        cmd = "--weights " + name if name != "default" else "(no --weights)"
        rows.append(f"| `{name}` | {c.get('label', '')} | **{acc.get('nme', float('nan')):.2f}** | "
                    f"{acc.get('nme_no_jaw', float('nan')):.2f} | {det.get('nme', float('nan')):.2f} | "
                    f"{ms:.2f}{' (int8)' if q.get('shipped') else ''} | {cmd} |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        sys.exit(f"{readme}: no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{table()}\n{END}{tail}"
    if args.check:
        if new != text:
            print("README's shipped-models table differs from the cards: run python tools/update_readme.py")
            return 1
        return 0
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
