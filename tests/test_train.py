"""End to end on fixtures: training lowers the loss, checkpoints, exact resume, eval vs hand computation,
SIGKILL recovery, and data-parallel training with 2 CPU processes (gloo)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from heatmark.checkpoint import load_model, load_tensors, weights_digest
from heatmark.config import DEFAULTS, apply_overrides, merge_config
from heatmark.engine.recipes import HEAD_RECIPES
from heatmark.engine.trainer import Trainer
from heatmark.errors import ConfigError


def small_cfg(fixtures: Path, tmp: Path, head: str = "heatmap", epochs: int = 2, extra=()) -> dict:
    cfg = merge_config(DEFAULTS, HEAD_RECIPES[head])
    cfg["data"]["train"] = [{"dataset": "facesynthetics", "root": str(fixtures / "facesynthetics"), "ratio": 1.0}]
    cfg["data"]["val"] = {"dataset": "300w", "root": str(fixtures / "300w")}
    return apply_overrides(cfg, [
        "data.input_size=64", f"data.cache_dir={tmp / 'cache'}", "data.samples_per_epoch=8", "data.workers=0",
        "optim.batch_size=2", f"optim.epochs={epochs}", "optim.warmup_steps=1", "optim.lr=0.003", "augment=none",
        *extra])


def _quiet(*a, **k):
    pass


def test_two_epochs_lower_loss_and_write_checkpoints(fixtures, tmp_path):
    t = Trainer(small_cfg(fixtures, tmp_path), tmp_path / "run", progress=False, log=_quiet)
    t.fit()
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines] == [1, 2] and lines[-1]["step"] == 8
    assert lines[1]["train_loss"] < lines[0]["train_loss"]
    assert lines[0]["val_n"] == 6 and np.isfinite(lines[0]["val_nme"])
    for name in ("best", "last", "final"):
        assert (tmp_path / "run" / f"{name}.safetensors").is_file()
        assert json.loads((tmp_path / "run" / f"{name}.json").read_text())["model"]["head"] == "heatmap"
    model, codec, scheme, meta = load_model(tmp_path / "run" / "best.safetensors")
    assert scheme.num_points == 68 and meta["input_size"] == 64 and codec.stride == 4
    final, _, _, fmeta = load_model(tmp_path / "run" / "final.safetensors")  # end-of-budget weights
    assert fmeta["step"] == 8
    last, _ = load_tensors(tmp_path / "run" / "last.safetensors")
    for k, v in final.state_dict().items():
        assert torch.equal(v, last[f"model.{k}"])


def test_fresh_start_over_a_dead_attempt_starts_a_new_log(fixtures, tmp_path):
    """A folder left by an attempt whose checkpoints were lost holds a stale metrics.jsonl; training afresh
    into it logs only its own epochs, once each."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.jsonl").write_text(json.dumps({"epoch": 1, "step": 4, "train_loss": 9.0}) + "\n"
                                       + json.dumps({"epoch": 2, "step": 8, "train_loss": 8.0}) + "\n")
    Trainer(small_cfg(fixtures, tmp_path, epochs=1), out, progress=False, log=_quiet, force=True).fit()
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines] == [1] and lines[0]["train_loss"] != 9.0


def test_resume_restores_the_ema_weights(fixtures, tmp_path):
    """With EMA on, ``last.safetensors`` carries the shadow weights (``ema.*``); a resumed run continues from
    them."""
    cfg = small_cfg(fixtures, tmp_path, epochs=1, extra=["optim.ema=0.9"])
    Trainer(cfg, tmp_path / "run", device="cpu", progress=False, log=_quiet).fit()
    saved, _ = load_tensors(tmp_path / "run" / "last.safetensors")
    resumed = Trainer(cfg, tmp_path / "run", resume=True, device="cpu", progress=False, log=_quiet)
    ema = {k[len("ema."):]: v for k, v in saved.items() if k.startswith("ema.")}
    assert ema and set(resumed.ema.shadow) == set(ema) == set(resumed.model.state_dict())
    assert all(torch.equal(resumed.ema.shadow[k], v) for k, v in ema.items())


@pytest.mark.parametrize("head", ["heatmap", "regression"])
def test_resume_continues_exactly(fixtures, tmp_path, head):
    cfg = small_cfg(fixtures, tmp_path, head, epochs=2, extra=["augment=full"])
    Trainer(cfg, tmp_path / "a", device="cpu", progress=False, log=_quiet).fit()  # bitwise: CPU kernels
    interrupted = Trainer(cfg, tmp_path / "b", device="cpu", progress=False, log=_quiet)
    interrupted.epochs = 1  # stop after the first epoch, as a killed run would
    interrupted.fit()
    resumed = Trainer(cfg, tmp_path / "b", resume=True, device="cpu", progress=False, log=_quiet)
    assert resumed.step == 4 and resumed.epoch == 1
    resumed.fit()
    a, _ = load_tensors(tmp_path / "a" / "last.safetensors")
    b, _ = load_tensors(tmp_path / "b" / "last.safetensors")
    for k in a:
        if k.startswith("model."):
            assert torch.equal(a[k], b[k]), k
    la = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    lb = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    strip = lambda s: {k: v for k, v in json.loads(s).items() if k not in ("seconds", "img_per_s")}  # noqa: E731
    assert [strip(x) for x in la] == [strip(x) for x in lb]


def test_eval_matches_hand_computed_nme(fixtures, tmp_path):
    """`heatmark eval` on a 3-image fixture equals NME computed here by hand, point by point."""
    from heatmark.cli import main
    from heatmark.data.crops import box_from_landmarks, crop_face, invert, transform_points
    from heatmark.data.image_io import read_image
    from heatmark.data.readers import read_pts

    Trainer(small_cfg(fixtures, tmp_path, epochs=1), tmp_path / "run", progress=False, log=_quiet).fit()
    three = tmp_path / "three"
    three.mkdir()
    names = ["111076519_1", "1130084326_1", "1139324862_1"]
    for n in names:
        for ext in (".jpg", ".pts"):
            shutil.copy(fixtures / "300w" / f"{n}{ext}", three / f"{n}{ext}")
    w = tmp_path / "run" / "best.safetensors"
    assert main(["eval", "--dataset", "300w", "--root", str(three), "--weights", str(w),
                 "--json", str(tmp_path / "e.json")]) == 0
    reported = json.loads((tmp_path / "e.json").read_text())

    assert main(["eval", "--dataset", "300w", "--root", str(three), "--weights", str(w), "--flip",
                 "--json", str(tmp_path / "f.json")]) == 0
    flipped = json.loads((tmp_path / "f.json").read_text())
    assert flipped["flip"] is True and reported["flip"] is False

    model, codec, scheme, meta = load_model(w)
    fi = scheme.flip_index
    for flip, rep in ((False, reported), (True, flipped)):
        nmes = []
        for n in names:
            gt = read_pts(three / f"{n}.pts")
            crop, m = crop_face(read_image(three / f"{n}.jpg"), box_from_landmarks(gt, meta["box_scale"]),
                                meta["input_size"])
            x = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255
            with torch.no_grad():
                pts, _ = codec.decode(model(x))
                if flip:  # mirrored prediction on the mirrored crop, by hand
                    fp, _ = codec.decode(model(torch.flip(x, dims=[3])))
                    fp = fp[:, fi]
                    fp[..., 0] = meta["input_size"] - fp[..., 0]
                    pts = (pts + fp) / 2
            pred = transform_points(invert(m), pts[0].double().numpy())
            d = np.hypot(*(gt[36] - gt[45]))
            nmes.append(np.mean([np.hypot(*(pred[i] - gt[i])) for i in range(68)]) / d)
        assert rep["n"] == 3
        assert rep["nme"] == pytest.approx(np.mean(nmes) * 100, rel=1e-3)


def _cli_train(fixtures, tmp_path, out, extra=()):
    return [sys.executable, "-m", "heatmark.cli", "train", "--head", "heatmap",
            "--train", f"facesynthetics:{fixtures / 'facesynthetics'}", "--val", f"300w:{fixtures / '300w'}",
            "--out", str(out), "--quiet", "--device", "cpu", "--set", "data.input_size=64",
            "--set", f"data.cache_dir={tmp_path / 'c'}",
            "--set", "data.workers=0", "--set", "optim.batch_size=2", "--set", "augment=none", *extra]


@pytest.mark.slow
def test_sigkill_during_training_then_resume(fixtures, tmp_path):
    out = tmp_path / "run"
    cmd = _cli_train(fixtures, tmp_path, out, ["--epochs", "6", "--set", "data.samples_per_epoch=12"])
    rng = np.random.default_rng(0)
    killed = 0
    for attempt in range(3):  # kill at a random moment after the first checkpoint, three times
        p = subprocess.Popen(cmd + (["--resume"] if attempt else []), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        start_epoch = json.loads((out / "last.json").read_text())["epoch"] if attempt else 0
        while time.time() < deadline and p.poll() is None:
            if (out / "last.json").is_file() and json.loads((out / "last.json").read_text())["epoch"] > start_epoch:
                break
            time.sleep(0.05)
        time.sleep(float(rng.uniform(0, 1.0)))
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
        p.wait()
        killed += p.returncode == -signal.SIGKILL
        for f in out.glob("*.safetensors"):  # everything left behind loads
            load_tensors(f)
        assert json.loads((out / "last.json").read_text())["epoch"] >= start_epoch
    assert killed >= 1, "no attempt was killed mid-run: the test did not test resuming"
    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    epochs = [json.loads(x)["epoch"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert epochs[-1] == 6 and sorted(set(epochs)) == list(range(1, 7))
    load_model(out / "best.safetensors")
    # the killed-and-resumed run ends exactly where an uninterrupted one with the same seed does
    ref = tmp_path / "uninterrupted"
    r = subprocess.run([*cmd[: cmd.index("--out") + 1], str(ref), *cmd[cmd.index("--out") + 2:]],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    a, _ = load_tensors(out / "last.safetensors")
    b, _ = load_tensors(ref / "last.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("model."))
    final = lambda f: {k: v for k, v in json.loads(f.read_text().splitlines()[-1]).items()  # noqa: E731
                       if k not in ("seconds", "img_per_s")}
    assert final(out / "metrics.jsonl") == final(ref / "metrics.jsonl")


def test_data_parallel_two_cpu_processes(fixtures, tmp_path):
    out = tmp_path / "ddp"
    train = _cli_train(fixtures, tmp_path, out, ["--epochs", "1", "--set", "data.samples_per_epoch=8"])[3:]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "heatmark.cli", *train]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 1 and lines[0]["step"] == 2  # 8 samples / 2 ranks / batch 2
    assert lines[0]["val_n"] == 6  # validation gathered from both ranks
    model, _, _, _ = load_model(out / "best.safetensors")
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 68, 16, 16)


def test_custom_scheme_end_to_end(fixtures, tmp_path):
    """A 5-point scheme from a YAML file: read, train, evaluate."""
    from heatmark.cli import main
    from heatmark.data.readers import read_pts

    data = tmp_path / "five"
    data.mkdir()
    pick = [36, 45, 30, 48, 54]  # eye corners, nose tip, mouth corners
    for img in sorted((fixtures / "300w").glob("*.jpg")):
        shutil.copy(img, data / img.name)
        pts = read_pts(img.with_suffix(".pts"))[pick] + 0.5
        body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in pts)
        (data / f"{img.stem}.pts").write_text(f"version: 1\nn_points: 5\n{{\n{body}\n}}\n")
    scheme = tmp_path / "five.yaml"
    scheme.write_text("name: five\nnum_points: 5\nnames: [reye, leye, nose, rmouth, lmouth]\n"
                      "flip_pairs: [[0, 1], [3, 4]]\nnorm: [[0], [1]]\n")
    cfg = small_cfg(fixtures, tmp_path, epochs=1, extra=[f"data.scheme={scheme}", "augment=full"])
    cfg["data"]["train"] = [{"dataset": "folder", "root": str(data), "scheme": str(scheme)}]
    cfg["data"]["val"] = {"dataset": "folder", "root": str(data), "scheme": str(scheme)}
    Trainer(cfg, tmp_path / "run", progress=False, log=_quiet).fit()
    model, _, s, _ = load_model(tmp_path / "run" / "best.safetensors")
    assert s.num_points == 5 and s.flip_pairs == ((0, 1), (3, 4))
    assert main(["eval", "--dataset", "folder", "--root", str(data), "--scheme", str(scheme), "--weights",
                 str(tmp_path / "run" / "best.safetensors"), "--json", str(tmp_path / "e.json")]) == 0
    res = json.loads((tmp_path / "e.json").read_text())
    assert res["n"] == 6 and res["scheme"] == "five" and len(res["per_point_nme"]) == 5


def test_300w_protocol_subsets(fixtures, tmp_path):
    from heatmark.cli import main

    Trainer(small_cfg(fixtures, tmp_path, epochs=1), tmp_path / "run", progress=False, log=_quiet).fit()
    root = tmp_path / "300w"
    files = sorted((fixtures / "300w").glob("*.jpg"))
    for i, img in enumerate(files):
        sub = root / ["lfpw/testset", "helen/testset", "ibug"][i % 3]
        sub.mkdir(parents=True, exist_ok=True)
        for f in (img, img.with_suffix(".pts")):
            shutil.copy(f, sub / f.name)
    assert main(["eval", "--dataset", "300w", "--root", str(root), "--weights",
                 str(tmp_path / "run" / "best.safetensors"), "--json", str(tmp_path / "e.json")]) == 0
    res = json.loads((tmp_path / "e.json").read_text())
    assert res["common"]["n"] == 4 and res["challenging"]["n"] == 2 and res["full"]["n"] == 6
    assert res["full"]["nme"] == pytest.approx(res["nme"])


def test_model_and_codec_stride_must_agree(fixtures, tmp_path):

    cfg = small_cfg(fixtures, tmp_path, extra=["model.options.stride=2"])  # the recipe's codec keeps stride 4
    with pytest.raises(ConfigError, match="codec.stride"):
        Trainer(cfg, tmp_path / "run", progress=False, log=_quiet)


def test_device_choice_errors_are_clear(monkeypatch):
    from heatmark.engine.device import pick_device as _pick_device
    from heatmark.errors import ConfigError

    assert _pick_device("cpu", 0, 1).type == "cpu"
    with pytest.raises(ConfigError, match="not a device"):
        _pick_device("gpu0", 0, 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _pick_device("auto", 0, 1).type == "cpu" and _pick_device(None, 1, 2).type == "cpu"
    with pytest.raises(ConfigError, match="sees no CUDA GPU.*--device cpu"):
        _pick_device("cuda", 0, 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert _pick_device("auto", 0, 2) == torch.device("cuda:0") == _pick_device("cuda", 0, 2)
    with pytest.raises(ConfigError, match="needs GPU cuda:1, but torch sees 1.*--nproc_per_node 1.*--device cpu"):
        _pick_device("auto", 1, 2)


def test_model_init_starts_from_given_weights_and_records_them(fixtures, tmp_path):
    """``model.init``: the network starts from a trained run's weights (checked by name and shape); the file and its
    hash are recorded in every checkpoint; weights of another network are refused naming the key."""
    first = tmp_path / "first"
    Trainer(small_cfg(fixtures, tmp_path, epochs=1), first, progress=False, log=_quiet).fit()
    src = first / "final.safetensors"
    cfg = small_cfg(fixtures, tmp_path, epochs=1, extra=[f"model.init={src}"])
    t = Trainer(cfg, tmp_path / "second", progress=False, log=_quiet)
    start, _ = load_tensors(src)
    for k, v in t.model.state_dict().items():
        assert torch.equal(v, start[f"model.{k}"]), k
    t.fit()
    meta = json.loads((tmp_path / "second" / "final.json").read_text())
    assert meta["config"]["model"]["init"] == str(src)
    assert meta["init"] == {"weights": str(src), "sha256": weights_digest(start)}
    resumed = Trainer(cfg, tmp_path / "second", resume=True, progress=False, log=_quiet)  # keeps its own weights
    assert resumed.init_source == meta["init"]
    final, _ = load_tensors(tmp_path / "second" / "final.safetensors")
    assert all(torch.equal(v, final[f"model.{k}"]) for k, v in resumed.model.state_dict().items())
    other = small_cfg(fixtures, tmp_path, epochs=1, extra=[f"model.init={src}", "model.in_channels=1"])
    with pytest.raises(ConfigError, match=r"model\.init: .*does not fit this config's network"):
        Trainer(other, tmp_path / "third", progress=False, log=_quiet)
    missing = small_cfg(fixtures, tmp_path, epochs=1, extra=[f"model.init={tmp_path / 'none.safetensors'}"])
    with pytest.raises(ConfigError, match=r"model\.init: .*none\.safetensors"):
        Trainer(missing, tmp_path / "fourth", progress=False, log=_quiet)


def test_model_init_partial_loads_the_tensors_that_fit(fixtures, tmp_path):
    """``model.init_partial``: a network that differs from the weights' (here ``trim_encoder``) loads every tensor
    that matches by name and shape, the rest start random and are recorded; without the key it is refused with the
    hint; weights of which nothing fits are refused too."""
    net = ["model.backbone=mobilenet_v2", "model.options={arch: unet, stride: 4, decoder_channels: [32, 16, 8, 8, 8]}"]
    first = tmp_path / "first"
    Trainer(small_cfg(fixtures, tmp_path, epochs=1, extra=net), first, progress=False, log=_quiet).fit()
    src = first / "final.safetensors"
    trim = ["model.backbone=mobilenet_v2", f"model.init={src}",
            "model.options={arch: unet, stride: 4, decoder_channels: [32, 16, 8, 8, 8], trim_encoder: true}"]
    with pytest.raises(ConfigError, match=r"does not fit.*decoder\.blocks\.0\.conv1.*model\.init_partial: true"):
        Trainer(small_cfg(fixtures, tmp_path, epochs=1, extra=trim), tmp_path / "strict", progress=False, log=_quiet)
    lines = []
    t = Trainer(small_cfg(fixtures, tmp_path, epochs=1, extra=[*trim, "model.init_partial=true"]), tmp_path / "p",
                progress=False, log=lambda *a, **k: lines.append(" ".join(map(str, a))))
    start, _ = load_tensors(src)
    fresh = ["decoder.blocks.0.conv1.0.weight"]
    for k, v in t.model.state_dict().items():
        assert torch.equal(v, start[f"model.{k}"]) != (k in fresh), k
    assert t.init_source["reinitialised"] == fresh
    assert "decoder.blocks.0.conv1.0.weight" in t.init_source["unused"]
    assert any(k.startswith("encoder.features.18.") for k in t.init_source["unused"])
    assert any("random: ['decoder.blocks.0.conv1.0.weight']" in line for line in lines)
    t.fit()
    assert json.loads((tmp_path / "p" / "final.json").read_text())["init"]["reinitialised"] == fresh
    other = small_cfg(fixtures, tmp_path, "regression", 1, [f"model.init={src}", "model.init_partial=true"])
    with pytest.raises(ConfigError, match="no tensor of .* fits this config's network"):
        Trainer(other, tmp_path / "none", progress=False, log=_quiet)


def test_average_weights_tool_means_runs_from_one_start_and_refuses_others(tmp_path):
    """tools/average_weights.py: float tensors averaged, integer ones from the first file, each source named with
    its digest; runs that did not start from the same weights are refused (their mean is a broken network)."""
    import runpy

    from heatmark.checkpoint import load_tensors, save_tensors, weights_digest

    tool = runpy.run_path(str(Path(__file__).parents[1] / "tools" / "average_weights.py"))

    def write(name, value, init):
        t = {"model.w": torch.full((2, 3), float(value)), "model.bn.num_batches_tracked": torch.tensor(value)}
        meta = {"config": {"model": {"init": init}}} if init else {"config": {"model": {}}}
        save_tensors(tmp_path / name, t, meta)
        return tmp_path / name

    a, b = write("a.safetensors", 1, "synthetic"), write("b.safetensors", 4, "synthetic")
    tool["main"]([str(a), str(b), "--out", str(tmp_path / "soup.safetensors")])
    t, meta = load_tensors(tmp_path / "soup.safetensors")
    assert torch.allclose(t["model.w"], torch.full((2, 3), 2.5))
    assert int(t["model.bn.num_batches_tracked"]) == 1
    assert [s["sha256"] for s in meta["averaged_from"]] == [weights_digest(load_tensors(p)[0]) for p in (a, b)]
    with pytest.raises(SystemExit, match="exists"):
        tool["main"]([str(a), str(b), "--out", str(tmp_path / "soup.safetensors")])
    c = write("c.safetensors", 2, "runs/other/final.safetensors")
    with pytest.raises(SystemExit, match="started from other weights"):
        tool["main"]([str(a), str(c), "--out", str(tmp_path / "x.safetensors")])
    d = write("d.safetensors", 2, None)
    with pytest.raises(SystemExit, match="no starting weights"):
        tool["main"]([str(d), str(a), "--out", str(tmp_path / "y.safetensors")])
    tool["main"]([str(d), str(c), "--any-init", "--out", str(tmp_path / "z.safetensors")])
    assert not (tmp_path / "x.safetensors").exists() and not (tmp_path / "y.safetensors").exists()
