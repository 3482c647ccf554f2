"""``heatmark adapt``: fit a label adapter from a model's predictions on an annotated *real* set.

The adapter maps the model's landmark convention (e.g. FaceSynthetics') to the set's (e.g. 300W's). It is
learned from real labels: a model used with it is no longer synthetic-only. Never fit on the evaluation set.
"""

from __future__ import annotations

import argparse

from heatmark.cli.common import WEIGHTS_HELP, positive_int, weights


def add_arguments(ad: argparse.ArgumentParser) -> None:
    from heatmark.data.readers import DATASETS

    ad.add_argument("--weights", help=WEIGHTS_HELP)
    ad.add_argument("--dataset", required=True, choices=DATASETS, help="the annotated set to fit on")
    ad.add_argument("--root", required=True, help="its folder or file (e.g. ../shared/data/300w_helen_train)")
    ad.add_argument("--out", required=True, help="adapter file to write (.npz)")
    ad.add_argument("--folds", type=positive_int, default=5, help="cross-validation folds to choose the ridge")
    ad.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    from heatmark.engine.adapt import fit_adapter

    ad, stats = fit_adapter(weights(args), args.dataset, args.root, folds=args.folds, device=args.device)
    ad.save(args.out)
    print(f"wrote {args.out}: ridge {stats['ridge']:g}, cross-validated NME on {args.dataset} "
          f"{stats['cv_nme'][stats['ridge']]:.3f}% (without: {stats['nme_without']:.3f}%)")
    return 0
