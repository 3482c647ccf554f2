"""One trainer for every model: regression or heatmap head, CPU or CUDA, one process or DDP under torchrun.

Per epoch: train on the mixed sources, validate on a real set (NME in the original images), write
``last.safetensors`` (full state, for ``--resume``) and, when validation improves, ``best.safetensors``
(weights only, EMA weights if EMA is on), each with a JSON sidecar, and append a line to ``metrics.jsonl``.
When the step budget is spent, ``final.safetensors`` (weights only) holds the end-of-training weights:
the ones to report on a test set, since ``best`` was chosen on the validation set.
Randomness is a function of (seed, epoch, index) for data and of the saved RNG state for the model, so a
resumed CPU run continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from heatmark.atomic import remove_stale_temporaries
from heatmark.checkpoint import load_tensors, model_meta, model_state, save_model, save_tensors
from heatmark.codecs import create_codec
from heatmark.codecs.decoders import decode_soft_argmax
from heatmark.config import validate_config
from heatmark.data.crops import transform_points
from heatmark.data.schemes import get_scheme
from heatmark.engine.data import MixDataset, MixSampler, build_source, collate
from heatmark.engine.device import pick_device
from heatmark.engine.distill import load_teacher
from heatmark.engine.evaluate import evaluate, predict_dataset
from heatmark.engine.training_utils import (
    EMA,
    config_changes,
    describe_init,
    git_commit,
    init_weights,
    refuse_existing_run,
    warmup_cosine,
)
from heatmark.errors import ConfigError, HeatmarkError
from heatmark.losses import create_loss
from heatmark.models import count_parameters, create_model


class TrainingDiverged(HeatmarkError):
    """The loss became NaN or Inf."""


def model_and_codec(cfg: dict, scheme) -> tuple[torch.nn.Module, object]:
    """The untrained network and the target codec a training config describes."""
    m = cfg["model"]
    options = dict(m.get("options") or {})
    if m.get("in_channels", 3) != 3:
        options["in_channels"] = int(m["in_channels"])
    model = create_model(m["head"], m["backbone"], scheme.num_points, **options)
    return model, create_codec(m["head"], int(cfg["data"]["input_size"]), **(cfg.get("codec") or {}))


def _dist_info(device: str | None) -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank, world)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    return rank, world, dev


class Trainer:
    def __init__(self, cfg: dict, out_dir: str | Path, resume: bool = False, device: str | None = None,
                 progress: bool = True, log=print, force: bool = False):
        """``device``: None or "auto" (a GPU when torch sees one, else the CPU), "cpu", "cuda", "cuda:N".
        A fresh start refuses a run folder that already holds a run, and ``resume`` refuses a changed config,
        unless ``force``."""
        self.cfg, self.out = validate_config(cfg), Path(out_dir)
        self.log, self.force = log, force
        if not resume and not force:
            refuse_existing_run(self.out)
        self._setup_runtime(device, progress)
        sources = self._build_data()
        self._build_model(sources, resume)
        self._build_loss()
        self._build_teacher()
        self._build_optimizer()
        self.epoch, self.step, self.best, self.skipped_batches = 0, 0, math.inf, 0
        if resume:
            self._load_last()

    # ------------------------------------------------------------------ setup steps
    def _setup_runtime(self, device: str | None, progress: bool) -> None:
        """Process rank, device, threads, seed."""
        self.rank, self.world, self.device = _dist_info(device)
        self.main = self.rank == 0
        self.cuda = self.device.type == "cuda"
        if not self.cuda and self.world > 1:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // self.world))
        self.progress = progress and self.main
        torch.manual_seed(int(self.cfg["seed"]))

    def _build_data(self) -> list:
        """Cached training sources, the mixing sampler, the loader, and the validation set."""
        d, seed = self.cfg["data"], int(self.cfg["seed"])
        self.scheme = get_scheme(d["scheme"])
        self.input_size = int(d["input_size"])
        if self.world > 1 and self.rank != 0:
            dist.barrier()  # rank 0 builds the crop caches first; the others then reuse them
        sources = [build_source(e, d, self.scheme, self.cfg["augment"], seed, train=True)[0] for e in d["train"]]
        self.train_data = MixDataset(sources)
        self.sampler = MixSampler([len(s) for s in sources], [float(e.get("ratio", 1.0)) for e in d["train"]],
                                  d.get("samples_per_epoch"), seed, self.rank, self.world)
        self.batch_size = int(self.cfg["optim"]["batch_size"])
        self.steps_per_epoch = max(1, len(self.sampler) // self.batch_size)
        workers = int(d.get("workers", 0))
        self.loader = torch.utils.data.DataLoader(
            self.train_data, batch_size=self.batch_size, sampler=self.sampler, num_workers=workers,
            collate_fn=collate, drop_last=True, persistent_workers=workers > 0, pin_memory=self.cuda,
            generator=torch.Generator().manual_seed(seed))
        self.val_data = self.val_records = None
        if d.get("val"):
            self.val_data, self.val_records = build_source(d["val"], d, self.scheme, None, seed, train=False)
        if self.world > 1 and self.rank == 0:
            dist.barrier()
        return sources

    def _build_model(self, sources: list, resume: bool) -> None:
        """The network and its codec on the device (DDP-wrapped as ``self.net`` under torchrun)."""
        self.head = self.cfg["model"]["head"]
        self.model, self.codec = model_and_codec(self.cfg, self.scheme)
        m = self.cfg["model"]  # model.init is recorded in every checkpoint (a resumed run reads it from its own)
        self.init_source = None if resume or not m.get("init") else \
            init_weights(self.model, m["init"], m.get("init_partial"), m.get("init_narrow"))
        if self.init_source:
            self.log(describe_init(self.init_source))
        elif self.head == "regression" and not resume:
            self._init_mean_shape(sources[0])
        self.model.to(self.device)
        if self.cuda:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net = self.model
        if self.world > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.cuda else None)

    def _build_loss(self) -> None:
        """The main loss (heatmap or coordinate, matching the head) and the optional auxiliary one."""
        cfg, lp = self.cfg, dict(self.cfg["loss"].get("params") or {})
        self.loss_fn = create_loss(cfg["loss"]["name"], **lp)
        needs = {"regression": "coords", "heatmap": "heatmap", "pip": "pip"}[self.head]
        if self.loss_fn.kind != needs:
            names = {"coords": "coordinate loss (wing, l1, ...)", "heatmap": "heatmap loss (awing, heatmap_mse)",
                     "pip": "pip loss"}
            raise ConfigError(f"loss {cfg['loss']['name']!r} is a {self.loss_fn.kind} loss; the {self.head} head "
                              f"needs a {names[needs]}")
        if self.head == "regression" and "pixel_scale" not in lp:
            self.loss_fn.pixel_scale = self.codec.pixel_scale  # loss parameters are in crop pixels
        self.aux = None
        if cfg.get("aux"):
            a = dict(cfg["aux"])
            self.aux = (create_loss(a.get("loss", "l1"), **(a.get("params") or {})), float(a.get("weight", 1.0)),
                        float(a.get("beta", self.codec.beta)))

    def _build_teacher(self) -> None:
        """The frozen teacher of knowledge distillation (config ``distill``; see :mod:`heatmark.engine.distill`)."""
        self.teacher = None
        if self.cfg.get("distill"):
            self.teacher = load_teacher(self.cfg["distill"], self.cfg, self.scheme, self.codec, self.device)
            if self.main:
                w = self.teacher.weight
                what = (f"heatmaps weigh {w:g} in the targets" if self.teacher.mode == "heatmaps" else
                        f"landmarks weigh {w:g} in the loss, as a second label")
                self.log(f"distilling from {self.teacher.path} (teacher {what})")

    def _build_optimizer(self) -> None:
        """AdamW, warm-up + cosine schedule over the step budget, EMA, mixed precision on CUDA."""
        o = self.cfg["optim"]
        self.total_steps = int(o["max_steps"] or int(o["epochs"]) * self.steps_per_epoch)
        self.epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=float(o["lr"]),
                                           weight_decay=float(o["weight_decay"]))
        lr_at = warmup_cosine(int(o["warmup_steps"]), float(o["min_lr_ratio"]), self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_at)
        self.ema = EMA(self.model, float(o["ema"])) if o.get("ema") else None
        self.amp_dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if self.cuda else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

    # ------------------------------------------------------------------ setup helpers
    def _init_mean_shape(self, ds) -> None:
        from heatmark.data.schemes import convert_points

        pts = transform_points(ds.base_matrix, ds.cache.landmarks)
        pts = convert_points(pts, ds.src_scheme, ds.scheme).mean(0) / self.input_size
        self.model.init_mean_shape(torch.as_tensor(pts, dtype=torch.float32))

    def meta(self, **extra) -> dict:
        return model_meta(self.model, self.codec, self.scheme, self.input_size, self.cfg["data"]["box_scale"],
                          config=self.cfg, commit=git_commit(), params=count_parameters(self.model),
                          **({"init": self.init_source} if self.init_source else {}), **extra)

    # ------------------------------------------------------------------ checkpoints
    def _save_last(self, metrics: dict) -> None:
        t = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        if self.ema:
            t.update({f"ema.{k}": v for k, v in self.ema.shadow.items()})
        opt = self.optimizer.state_dict()
        for pid, st in opt["state"].items():
            for k, v in st.items():
                t[f"optim.{pid}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
        t["rng.torch"] = torch.get_rng_state()
        save_tensors(self.out / "last.safetensors", t, self.meta(
            epoch=self.epoch, step=self.step, best_nme=self.best, metrics=metrics,
            optim_groups=opt["param_groups"], scheduler=self.scheduler.state_dict(),
            skipped_batches=self.skipped_batches, kind="training-state"))

    def _load_last(self) -> None:
        path = self.out / "last.safetensors"
        if not path.is_file():
            raise HeatmarkError(f"{path}: nothing to resume from (no last.safetensors in the run folder)")
        t, meta = load_tensors(path)
        changed = config_changes(meta.get("config") or {}, self.cfg)
        if changed and not self.force:
            raise ConfigError(f"{path}: this config differs from the run's ({'; '.join(changed[:8])}"
                              f"{'; ...' if len(changed) > 8 else ''}); resume with the run's own config, or pass "
                              "--force to continue with the new one")
        if meta.get("model") != self.model.config:
            raise HeatmarkError(f"{path}: the run was trained with model {meta.get('model')}, "
                                f"but this config builds {self.model.config}")
        self.model.load_state_dict(model_state(t))
        if self.ema:
            self.ema.shadow = {k: v.to(self.device) for k, v in model_state(t, "ema.").items()}
        state: dict = {}
        for k, v in t.items():
            if k.startswith("optim."):
                _, pid, name = k.split(".", 2)
                state.setdefault(int(pid), {})[name] = v
        self.optimizer.load_state_dict({"state": state, "param_groups": meta["optim_groups"]})
        self.scheduler.load_state_dict(meta["scheduler"])
        torch.set_rng_state(t["rng.torch"])
        self.epoch, self.step, self.best = int(meta["epoch"]), int(meta["step"]), float(meta["best_nme"])
        self.skipped_batches, self.init_source = int(meta.get("skipped_batches", 0)), meta.get("init")
        self.log(f"resumed from {path}: epoch {self.epoch}, step {self.step}, best NME {self.best:.3f}")

    def _save_weights(self, name: str, metrics: dict) -> None:
        if self.ema:
            live = {k: v.clone() for k, v in self.model.state_dict().items()}
            self.model.load_state_dict(self.ema.shadow)
        save_model(self.out / name, self.model,
                   self.meta(epoch=self.epoch, step=self.step, metrics=metrics, kind="weights"))
        if self.ema:
            self.model.load_state_dict(live)

    # ------------------------------------------------------------------ loop
    def _loss(self, batch: dict) -> torch.Tensor:
        x = batch["image"].to(self.device, non_blocking=True)
        pts = batch["landmarks"].to(self.device)
        vis = batch["visible"].to(self.device)
        if self.cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        target, weight = self.codec.encode(pts, vis)
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16,
                            enabled=self.amp_dtype is not None):
            if self.teacher is not None and self.teacher.mode == "heatmaps":  # label Gaussians + teacher heatmaps
                target = self.teacher.mix(x, target)
            out = self.net(x)
        out = out.float()
        loss = self.loss_fn(out, target, weight)
        if self.teacher is not None and self.teacher.mode == "points":  # the teacher's landmarks, a second label
            w = self.teacher.weight
            loss = (1 - w) * loss + w * self.loss_fn(out, *self.codec.encode(self.teacher.points(x)))
        if self.aux is not None:
            fn, w, beta = self.aux
            coords = decode_soft_argmax(out, beta)[0] * self.codec.stride
            loss = loss + w * fn(coords, pts, weight)
        return loss

    def train_epoch(self, bar=None, task=None) -> dict:
        self.net.train()
        self.sampler.set_epoch(self.epoch)
        losses, n_img, t0 = [], 0, time.perf_counter()
        clip = float(self.cfg["optim"]["clip_grad"] or 0)
        for batch in self.loader:
            if self.step >= self.total_steps:
                break
            loss = self._loss(batch)
            if not torch.isfinite(loss):
                if self.cfg["optim"]["nan"] == "skip":
                    self.skipped_batches += 1
                    self.optimizer.zero_grad(set_to_none=True)
                    continue
                raise TrainingDiverged(
                    f"loss became {loss.item()} at step {self.step} (epoch {self.epoch}); the last good "
                    f"checkpoint is {self.out / 'last.safetensors'}; lower optim.lr, or set optim.nan=skip")
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if clip > 0:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            if self.ema:
                self.ema.update(self.model)
            self.step += 1
            losses.append(loss.item())
            n_img += batch["image"].shape[0] * self.world
            if bar is not None:
                rate = n_img / (time.perf_counter() - t0)
                bar.update(task, advance=1, loss=f"{np.mean(losses[-20:]):.4f}", rate=f"{rate:.1f}")
        mean = float(np.mean(losses)) if losses else float("nan")
        if self.world > 1:
            tl = torch.tensor([mean], device=self.device)
            dist.all_reduce(tl)
            mean = tl.item() / self.world
        return {"train_loss": mean, "img_per_s": n_img / max(time.perf_counter() - t0, 1e-9)}

    def validate(self) -> dict:
        if self.val_data is None:
            return {}
        model = self.model
        if self.ema:
            live = {k: v.clone() for k, v in model.state_dict().items()}
            model.load_state_dict(self.ema.shadow)
        idx = list(range(self.rank, len(self.val_data), self.world))
        pred, _ = predict_dataset(model, self.codec, self.val_data, 32, self.device, idx)
        if self.ema:
            model.load_state_dict(live)
        if self.world > 1:
            gathered = [None] * self.world
            dist.all_gather_object(gathered, (idx, pred))
            full = np.zeros((len(self.val_data), *pred.shape[1:]))
            for i, p in gathered:
                full[i] = p
            pred = full
        res = evaluate(pred, self.scheme, self.val_records, self.cfg["eval"]["norm"])
        return {"val_nme": res["nme"], "val_fr@0.10": res["fr@0.10"], "val_auc@0.10": res["auc@0.10"],
                "val_n": res["n"]}

    def _trim_metrics_log(self) -> None:
        """``metrics.jsonl`` keeps only the epochs this run has done: a fresh start into a folder left by an
        earlier attempt (whose checkpoints were lost) begins an empty log, and a resumed run drops any line past
        its checkpoint, so each epoch is logged once."""
        path = self.out / "metrics.jsonl"
        if not path.is_file():
            return
        keep = [x for x in path.read_text().splitlines() if x.strip() and json.loads(x)["epoch"] <= self.epoch]
        path.write_text("".join(x + "\n" for x in keep))

    def fit(self) -> dict:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            for p in remove_stale_temporaries(self.out):  # left by a process killed mid-write
                self.log(f"removed stale temporary {p}")
            (self.out / "config.json").write_text(json.dumps(self.cfg, indent=1))
            self._trim_metrics_log()
            params = count_parameters(self.model) / 1e6
            self.log(f"training {self.head} {self.cfg['model']['backbone']} ({params:.2f} M "
                     f"params) on {self.device} x{self.world}: {self.total_steps} steps, {self.epochs} epochs of "
                     f"{self.steps_per_epoch} x {self.batch_size} images -> {self.out}")
        last: dict = {}
        cols = [TextColumn("epoch {task.fields[epoch]}"), BarColumn(), TextColumn("step {task.completed}/{task.total}"),
                TextColumn("loss {task.fields[loss]}"), TextColumn("val NME {task.fields[nme]}"),
                TextColumn("{task.fields[rate]} img/s"), TimeElapsedColumn(), TimeRemainingColumn()]
        with Progress(*cols, disable=not self.progress, transient=False) as bar:
            task = bar.add_task("train", total=self.total_steps, completed=self.step, epoch=self.epoch, loss="-",
                                nme="-", rate="-")
            while self.epoch < self.epochs and self.step < self.total_steps:
                t0 = time.perf_counter()
                bar.update(task, epoch=self.epoch + 1)
                stats = self.train_epoch(bar, task)
                do_val = (self.epoch + 1) % int(self.cfg["eval"]["every"]) == 0 or self.step >= self.total_steps
                val = self.validate() if do_val else {}
                self.epoch += 1
                lr = self.optimizer.param_groups[0]["lr"]
                last = {"epoch": self.epoch, "step": self.step, "lr": lr, **stats, **val,
                        "seconds": time.perf_counter() - t0, "skipped_batches": self.skipped_batches}
                if self.main:
                    improved = val and val["val_nme"] < self.best
                    if improved:
                        self.best = val["val_nme"]
                    # best first: a crash between the two leaves last.safetensors (the resume point) at
                    # the previous epoch, which then redoes this one
                    if improved or (not val and self.val_data is None):
                        self._save_weights("best.safetensors", last)
                    self._save_last(last)
                    if self.step >= self.total_steps:  # the budget is spent: the weights to report and ship
                        self._save_weights("final.safetensors", last)
                    with open(self.out / "metrics.jsonl", "a") as f:
                        f.write(json.dumps(last) + "\n")
                    if val:
                        bar.update(task, nme=f"{val['val_nme']:.2f}%")
                    if not self.progress:
                        self.log(json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in last.items()}))
        if self.world > 1:
            dist.barrier()
        return last
