"""Average the weights of runs fine-tuned from the same starting weights (a "model soup", Wortsman et al. 2022).

    python tools/average_weights.py runs/default/final.safetensors runs/default_s1/final.safetensors \\
        --out runs/default_soup/final.safetensors
    heatmark eval --dataset 300w --root ../shared/data/300w_afw --weights runs/default_soup/final.safetensors

Runs that started from the same weights (``model.init``) and differ in seed usually stay in one basin of the loss,
so their mean is a network as good as each or better, at the cost of one network at inference. Runs from
different random initialisations do not: their mean is a broken network, so the files must name the same
starting weights (the SHA-256 their checkpoints record) unless ``--any-init``. Floating-point tensors (weights
and batch-norm statistics) are averaged; integer ones (batch counters) come from the first file, as does the
metadata, which gains ``averaged_from`` (each file and its weights' digest).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from heatmark.checkpoint import load_tensors, save_tensors, weights_digest


def start_of(meta: dict) -> tuple[str, str] | None:
    """What a run started from: the digest its checkpoint recorded, or (runs from before that record) the
    ``model.init`` value of its config; None for a random initialisation."""
    if (meta.get("init") or {}).get("sha256"):
        return ("sha256", meta["init"]["sha256"])
    init = ((meta.get("config") or {}).get("model") or {}).get("init")
    return ("model.init", str(init)) if init else None


def average(paths: list[Path], any_init: bool = False) -> tuple[dict[str, torch.Tensor], dict]:
    """The mean of the weights files at ``paths`` and the first one's metadata plus ``averaged_from``."""
    loaded = [load_tensors(p) for p in paths]
    first, meta = loaded[0]
    shapes = {k: tuple(v.shape) for k, v in first.items()}
    for p, (t, _) in zip(paths[1:], loaded[1:]):
        if {k: tuple(v.shape) for k, v in t.items()} != shapes:
            raise SystemExit(f"{p}: its tensors differ from {paths[0]}'s in names or shapes; average runs of "
                             "one network only")
    if not any_init:
        starts = [start_of(m) for _, m in loaded]
        for p, s in zip(paths, starts):
            if s is None:
                raise SystemExit(f"{p}: names no starting weights (trained without model.init); runs from random "
                                 "initialisations do not average into a working network (--any-init to average "
                                 "anyway)")
            if s != starts[0]:
                raise SystemExit(f"{p}: started from other weights than {paths[0]} ({s[1]} vs {starts[0][1]}); the "
                                 "mean of networks from different starting points is not a working network "
                                 "(--any-init to average anyway)")
    out = {}
    for k, v in first.items():
        if v.is_floating_point():
            out[k] = (sum(t[k].double() for t, _ in loaded) / len(loaded)).to(v.dtype)
        else:
            out[k] = v
    meta = {**meta, "averaged_from": [{"weights": str(p), "sha256": weights_digest(t)}
                                      for p, (t, _) in zip(paths, loaded)]}
    meta.pop("format", None)
    return out, meta


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", nargs="+", type=Path, help="two or more .safetensors files of one network")
    ap.add_argument("--out", type=Path, required=True, help="the averaged weights (.safetensors)")
    ap.add_argument("--any-init", action="store_true", help="average runs that did not start from the same weights")
    args = ap.parse_args(argv)
    if len(args.weights) < 2:
        ap.error("give at least two weights files")
    if args.out.exists():
        raise SystemExit(f"{args.out} exists; choose another --out or remove it")
    tensors, meta = average(args.weights, args.any_init)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_tensors(args.out, tensors, meta)
    print(f"{args.out}: mean of {len(args.weights)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
