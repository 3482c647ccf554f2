"""How much do several models gain by averaging their predictions? A quick test of whether they make the same
errors (models fine-tuned from one start often do, and then neither an ensemble nor a distillation from it pays).

    python tools/ensemble_eval.py runs/trim160/final.safetensors runs/trim160_s1/final.safetensors \
        --root ../shared/data/300w_afw

Each model is evaluated as ``heatmark eval`` does (ground-truth boxes, no flip, no label-bias offset: the run's raw
network); then every combination of 2 or more models is scored on the mean of their landmarks (in image pixels).
Prints each model's NME, the best and the mean NME of each ensemble size, and the full ensemble.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", nargs="+", help="two or more weights files (or shipped names) of one landmark scheme")
    ap.add_argument("--root", required=True, help="the evaluation set's folder")
    ap.add_argument("--dataset", default="300w")
    args = ap.parse_args(argv)
    if len(args.weights) < 2:
        raise SystemExit("give at least two models to average")
    from heatmark.engine.evaluate import evaluate_weights
    from heatmark.engine.metrics import nme

    evals = [evaluate_weights(w, args.dataset, args.root, device="cpu") for w in args.weights]
    ref = evals[0]
    if any(ev.points.shape != ref.points.shape or not np.array_equal(ev.gt, ref.gt) for ev in evals):
        raise SystemExit("the models were scored on different points or faces (schemes, skipped faces): not comparable")

    def score(members) -> float:  # NME % of the mean landmarks, in the scheme the evaluation compared them in
        return 100 * float(nme(np.mean([evals[i].points for i in members], 0), ref.gt, ref.scheme).mean())

    for i, w in enumerate(args.weights):
        print(f"{score([i]):.3f}  {w}  (heatmark eval: {evals[i].metrics['nme']:.3f})")
    for k in range(2, len(evals) + 1):
        nmes = [score(combo) for combo in itertools.combinations(range(len(evals)), k)]
        print(f"ensembles of {k}: best {min(nmes):.3f}, mean {np.mean(nmes):.3f} ({len(nmes)} combinations)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
