"""Compare training runs by their validation curves (``metrics.jsonl``): a markdown table and one plot.

    python tools/compare_runs.py runs/default runs/default_s1 runs/default_ft_s0 runs/default_ft_s1 \\
        --tail 2000 --plot docs/results/default_init/curves.png

Per run: seed, the weights it started from (``model.init``), steps, the final validation NME (the end-of-budget
weights; before any label-bias offset), the mean over the last ``--tail`` steps (less seed-to-seed jitter than
one point) and the best value (shown only for reference: choosing it would tune on the validation set).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def load_run(run: Path) -> dict:
    metrics, config = run / "metrics.jsonl", run / "config.json"
    if not metrics.is_file():
        sys.exit(f"{metrics}: not found; give training run folders (heatmark train --out RUN)")
    rows = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
    rows = [r for r in rows if r.get("val_nme") is not None]
    if not rows:
        sys.exit(f"{metrics}: no validation rows (was the run trained with --no-val?)")
    cfg = json.loads(config.read_text()) if config.is_file() else {}
    return {"run": str(run), "seed": cfg.get("seed"), "init": (cfg.get("model") or {}).get("init"),
            "steps": [r["step"] for r in rows], "nme": [r["val_nme"] for r in rows]}


def summary(r: dict, tail: int) -> dict:
    last = r["steps"][-1]
    window = [n for s, n in zip(r["steps"], r["nme"]) if s > last - tail]
    return {"final": r["nme"][-1], "tail": sum(window) / len(window), "best": min(r["nme"]), "last_step": last}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--tail", type=int, default=2000, help="steps at the end to average over (default 2000)")
    ap.add_argument("--plot", type=Path, help="write the validation curves here (PNG)")
    ap.add_argument("--y-max", type=float, default=None, help="cut the plot's y axis here (e.g. 6)")
    args = ap.parse_args(argv)
    if args.tail < 1:
        sys.exit(f"--tail must be >= 1 step, got {args.tail}")
    runs = [load_run(r) for r in args.runs]
    print(f"| run | seed | started from | steps | final NME % | mean of the last {args.tail} steps | best (not used) |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for r in runs:
        s = summary(r, args.tail)
        print(f"| {r['run']} | {r['seed']} | {r['init'] or 'random'} | {s['last_step']} | {s['final']:.3f} | "
              f"{s['tail']:.3f} | {s['best']:.3f} |")
    if args.plot:
        from heatmark.engine.plots import curves_plot

        curves_plot({Path(r["run"]).name: (r["steps"], r["nme"]) for r in runs}, args.plot, "training step",
                    "validation NME %", "Validation curves", y_max=args.y_max)
        print(f"curves -> {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
