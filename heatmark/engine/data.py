"""Training and validation data from a config: cached sources, ratio mixing, a distributed sampler."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from heatmark.data.cache import CropCache, default_cache_dir
from heatmark.data.dataset import LandmarkDataset
from heatmark.data.readers import load_dataset
from heatmark.data.records import Records
from heatmark.data.relabel import relabel_records

TRAIN_MARGIN = 1.5  # training caches keep 1.5x the final crop, at the same pixel scale, for augmentation


def source_tag(entry: dict) -> str:
    """The crop-cache tag of a data source (training, validation or evaluation)."""
    limit = f"-first{int(entry['limit'])}" if entry.get("limit") else ""
    relabel = f"-{entry['relabel']}" if entry.get("relabel") else ""
    return f"{entry['dataset']}-{Path(str(entry['root'])).resolve().name}{limit}{relabel}"


def build_source(entry: dict, data_cfg: dict, scheme, augment, seed: int,
                 train: bool) -> tuple[LandmarkDataset, Records]:
    """A cached, augmented training source; or (``train=False``) a validation set, cropped as the evaluation
    pipeline crops it (:func:`heatmark.engine.evaluate.load_eval_set`)."""
    if not train:
        from heatmark.engine.evaluate import load_eval_set

        data = load_eval_set(entry["dataset"], entry["root"], int(data_cfg["input_size"]),
                             float(data_cfg["box_scale"]), scheme, entry.get("scheme"), bool(data_cfg.get("skip_bad")),
                             data_cfg.get("cache_dir") or default_cache_dir(), tag=source_tag(entry))
        for e in data.skipped:
            print(f"skipped: {e}")
        return data.dataset, data.records
    records = load_dataset(entry["dataset"], entry["root"], scheme=entry.get("scheme"),
                           skip_bad=bool(data_cfg.get("skip_bad")))
    if entry.get("limit"):  # the first N samples (readers sort by name): training-set size studies
        n = int(entry["limit"])
        records = Records(records[:n], records.skipped)
    records = relabel_records(records, entry.get("relabel"))  # e.g. silhouette: jaw on the visible outline
    size, box = int(data_cfg["input_size"]), float(data_cfg["box_scale"])
    cache_dir = data_cfg.get("cache_dir") or default_cache_dir()
    cache = CropCache(records, size=round(size * TRAIN_MARGIN), context=box * TRAIN_MARGIN, cache_dir=cache_dir,
                      tag=source_tag(entry), skip_bad=bool(data_cfg.get("skip_bad")))
    records = Records(cache.records, records.skipped + cache.skipped)
    for e in records.skipped:
        print(f"skipped: {e}")
    ds = LandmarkDataset(cache, input_size=size, target_scheme=scheme, augment=augment, box_scale=box, seed=seed)
    return ds, records


class MixDataset(torch.utils.data.Dataset):
    """Several sources behind one index space; items are addressed as (source, index, epoch, draw)."""

    def __init__(self, sources: list[LandmarkDataset]):
        self.sources = sources

    def __len__(self) -> int:
        return sum(len(s) for s in self.sources)

    def __getitem__(self, key: tuple[int, int, int, int]) -> dict:
        src, idx, epoch, draw = key
        return self.sources[src][(idx, epoch, draw)]


class MixSampler(torch.utils.data.Sampler):
    """Each epoch draws ``samples_per_epoch`` items, a share ``ratio`` from each source (without
    replacement while a source lasts, then a fresh permutation), shuffled, from a generator seeded by
    (seed, epoch); rank r of w takes every w-th item. Same seed and epoch → same order, on any rank count.
    Items are (source, index, epoch, draw): ``draw`` numbers the permutations of a source within the epoch,
    so a sample drawn a second time gets an augmentation of its own."""

    def __init__(self, sizes: list[int], ratios: list[float], samples_per_epoch: int | None, seed: int,
                 rank: int = 0, world: int = 1):
        self.sizes, self.seed, self.rank, self.world = sizes, seed, rank, world
        total = float(sum(ratios))
        self.ratios = [r / total for r in ratios]
        n = samples_per_epoch or sum(sizes)
        self.counts = [int(round(n * r)) for r in self.ratios]
        self.total = sum(self.counts) // world * world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self, epoch: int) -> list[tuple[int, int, int, int]]:
        rng = np.random.default_rng([self.seed, epoch, 7])
        items = []
        for s, (size, count) in enumerate(zip(self.sizes, self.counts)):
            reps = math.ceil(count / size)
            idx = np.concatenate([rng.permutation(size) for _ in range(reps)])[:count]
            items += [(s, int(i), epoch, k // size) for k, i in enumerate(idx)]
        order = rng.permutation(len(items))[: self.total]
        return [items[i] for i in order]

    def __iter__(self):
        return iter(self.indices(self.epoch)[self.rank::self.world])

    def __len__(self) -> int:
        return self.total // self.world


def collate(items: list[dict]) -> dict:
    return {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in items[0]}
