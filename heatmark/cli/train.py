"""``heatmark train``: a config (file, head recipe, flags, ``--set`` overrides) → a run folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(tr: argparse.ArgumentParser) -> None:
    tr.add_argument("--head", choices=["heatmap", "pip", "regression"],
                    help="head recipe (default heatmap; pip: pixel-in-pixel maps, no decoder)")
    tr.add_argument("--config", help="YAML config (see configs/)")
    tr.add_argument("--train", action="append", metavar="DATASET:ROOT[@RATIO]",
                    help="training source, repeatable; ratios mix sources (e.g. facesynthetics:DIR@0.6)")
    tr.add_argument("--val", metavar="DATASET:ROOT", help="validation set (real faces)")
    tr.add_argument("--no-val", action="store_true", help="train without validation")
    tr.add_argument("--out", default="runs/latest", help="run folder (checkpoints, metrics.jsonl)")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--max-steps", type=int, help="stop after this many optimiser steps (a fixed budget)")
    tr.add_argument("--seed", type=int)
    tr.add_argument("--resume", action="store_true", help="continue from RUN/last.safetensors")
    tr.add_argument("--force", action="store_true", help="start over in a folder that holds a run, or resume "
                    "with a changed config")
    tr.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key, e.g. loss.name=awing")
    tr.add_argument("--device", default="auto",
                    help="auto (a GPU with mixed precision when torch sees one, else the CPU), cpu, cuda or cuda:N")
    tr.add_argument("--quiet", action="store_true", help="no progress bar (one line per epoch)")
    tr.add_argument("--skip-bad", action="store_true", help="list and skip bad samples instead of stopping")


def train_config(args: argparse.Namespace) -> dict:
    """The run's config: the file or the head recipe, then the flags, then ``--set``; validated."""
    from heatmark.config import DEFAULTS, apply_overrides, load_config, merge_config, parse_source, validate_config
    from heatmark.engine.recipes import HEAD_RECIPES

    if args.config:
        cfg = load_config(args.config)
        if args.head and cfg["model"]["head"] != args.head:
            cfg = merge_config(cfg, HEAD_RECIPES[args.head])
    else:
        cfg = merge_config(DEFAULTS, HEAD_RECIPES[args.head or "heatmap"])
    if args.train:
        cfg["data"]["train"] = [parse_source(s) for s in args.train]
    if args.val:
        cfg["data"]["val"] = {k: v for k, v in parse_source(args.val).items() if k != "ratio"}
    if args.no_val:
        cfg["data"]["val"] = None
    if args.epochs is not None:
        cfg["optim"]["epochs"] = args.epochs
    if args.max_steps is not None:
        cfg["optim"]["max_steps"] = args.max_steps
    if args.seed is not None:
        cfg["seed"] = args.seed
    if args.skip_bad:
        cfg["data"]["skip_bad"] = True
    return validate_config(apply_overrides(cfg, args.set or []))


def run(args: argparse.Namespace) -> int:
    cfg = train_config(args)  # validated before anything is built
    from heatmark.engine.trainer import Trainer

    trainer = Trainer(cfg, args.out, resume=args.resume, device=args.device,
                      progress=not args.quiet and sys.stdout.isatty(), force=args.force)
    last = trainer.fit()
    if trainer.main:
        print(f"done: {last.get('step')} steps, last val NME {last.get('val_nme', float('nan')):.3f}% "
              f"-> {Path(args.out) / 'final.safetensors'} (best val {trainer.best:.3f}% -> best.safetensors)")
    return 0
