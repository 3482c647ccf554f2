"""Compare two benchmark grids row by row from their saved results (no training, no evaluation).

    python tools/compare_grids.py configs/bench/transfer_v1.yaml configs/bench/transfer.yaml

Prints a markdown table: for every (study, row) of the second grid, NME (mean ± std over the finished seeds)
in each grid and the difference. Rows are matched by study id and row name; a row missing from a grid, or
not finished in it, shows "–". Used for the v1 → v2 comparison in docs/benchmark_notes.md.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from heatmark.engine.grid import decode_study, load_grid, results_dir
from heatmark.engine.grid_report import collect, fmt_mean_std


def grid_rows(grid: dict) -> dict[tuple[str, str], list[float]]:
    """{(study id, row name): [NME % per finished seed]}; decoder studies give one row per decoder."""
    out = results_dir(grid)
    table = collect(grid, out)
    rows = {}
    for study in grid["studies"]:  # in the grid's order
        if study.get("decode_from"):
            res = decode_study(grid, study, out, log=lambda *a: None, compute=False)
            for d in study["decoders"]:
                rows[(study["id"], d)] = [r[d]["nme"] for r in res.values() if d in r]
        else:
            for run, rs in table[study["id"]]:
                rows[(study["id"], run["name"])] = [r["metrics"]["nme"] for r in rs]
    return rows


def _cell(vals: list[float]) -> str:
    return f"{fmt_mean_std(vals)} ({len(vals)})" if vals else "–"


def compare(a: dict, b: dict, names: tuple[str, str]) -> str:
    ra, rb = grid_rows(a), grid_rows(b)
    lines = [f"| study | row | {names[0]} NME % (seeds) | {names[1]} NME % (seeds) | Δ |",
             "| --- | --- | ---: | ---: | ---: |"]
    for key, vb in rb.items():
        va = ra.get(key, [])
        delta = f"{np.mean(vb) - np.mean(va):+.2f}" if va and vb else "–"
        lines.append(f"| {key[0]} | {key[1]} | {_cell(va)} | {_cell(vb)} | {delta} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("grid_a", help="first grid YAML (e.g. the archived one)")
    p.add_argument("grid_b", help="second grid YAML; its rows are listed")
    args = p.parse_args(argv)
    a, b = load_grid(args.grid_a), load_grid(args.grid_b)
    print(compare(a, b, (a.get("name", "A"), b.get("name", "B"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
