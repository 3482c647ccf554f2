"""Knowledge distillation (config ``distill``): a heatmap student of the teacher's sizes trains against the label's
Gaussians mixed with a frozen teacher's heatmaps; any other student (pip, regression, another input size) against
the teacher's landmarks as a second label; a teacher that does not fit is refused naming ``distill.teacher``."""

from __future__ import annotations

import pytest
import torch
from test_train import _quiet, small_cfg

from heatmark.checkpoint import load_model
from heatmark.config import apply_overrides
from heatmark.engine.trainer import Trainer
from heatmark.errors import ConfigError


@pytest.fixture(scope="module")
def teacher(fixtures, tmp_path_factory):
    """A heatmap model trained one epoch on the fixtures (64-px input, stride 4)."""
    tmp = tmp_path_factory.mktemp("teacher")
    Trainer(small_cfg(fixtures, tmp, epochs=1), tmp / "run", progress=False, log=_quiet).fit()
    return tmp / "run" / "final.safetensors"


def _student(fixtures, tmp_path, teacher, weight=0.5, extra=()):
    cfg = small_cfg(fixtures, tmp_path, epochs=1, extra=list(extra))
    return apply_overrides(cfg, [f"distill={{teacher: '{teacher}', weight: {weight}}}"])


@pytest.mark.parametrize("weight", [1.0, 0.25])
def test_targets_mix_the_labels_with_the_teacher_heatmaps(fixtures, tmp_path, teacher, weight):
    t = Trainer(_student(fixtures, tmp_path, teacher, weight), tmp_path / "run", progress=False, log=_quiet)
    seen = {}

    def capture(out, target, w):
        seen["target"] = target
        return out.mean() * 0

    t.loss_fn = capture
    batch = next(iter(t.loader))
    t._loss(batch)
    labels, _ = t.codec.encode(batch["landmarks"], batch["visible"])
    tmodel, _, _, _ = load_model(teacher)
    with torch.no_grad():
        heat = tmodel(batch["image"]).clamp(0, 1)
    torch.testing.assert_close(seen["target"], (1 - weight) * labels + weight * heat, atol=1e-5, rtol=1e-4)
    assert all(not p.requires_grad for p in t.teacher.model.parameters())  # frozen


def test_a_distilled_student_trains_and_records_its_teacher(fixtures, tmp_path, teacher):
    logs = []
    t = Trainer(_student(fixtures, tmp_path, teacher), tmp_path / "run", progress=False,
                log=lambda *a, **k: logs.append(" ".join(map(str, a))))
    t.fit()
    _, _, _, meta = load_model(tmp_path / "run" / "final.safetensors")
    assert meta["config"]["distill"] == {"teacher": str(teacher), "weight": 0.5}
    assert any("distilling from" in line for line in logs)


def test_a_teacher_that_does_not_fit_is_refused_by_name(fixtures, tmp_path, teacher):
    with pytest.raises(ConfigError, match=r"distill\.teacher.*data\.box_scale 1\.25 \(student 1\.5\)"):
        Trainer(_student(fixtures, tmp_path, teacher, extra=["data.box_scale=1.5"]), tmp_path / "a",
                progress=False, log=_quiet)
    with pytest.raises(ConfigError, match=r"distill\.teacher.*input channels 3 \(student 1\)"):
        Trainer(_student(fixtures, tmp_path, teacher, extra=["model.in_channels=1"]), tmp_path / "g",
                progress=False, log=_quiet)
    with pytest.raises(ConfigError, match=r"distill\.teacher.*not found"):
        Trainer(_student(fixtures, tmp_path, tmp_path / "missing.safetensors"), tmp_path / "b", progress=False,
                log=_quiet)
    with pytest.raises(ConfigError, match="distill.*weight"):
        Trainer(_student(fixtures, tmp_path, teacher, weight=1.5), tmp_path / "c", progress=False, log=_quiet)


def test_teacher_landmarks_are_in_the_student_crop_pixels(fixtures, tmp_path, teacher):
    """A 96-px student of a 64-px teacher: the teacher sees the crops resized to 64 px, its points scaled by 1.5."""
    t = Trainer(_student(fixtures, tmp_path, teacher, extra=["data.input_size=96"]), tmp_path / "run",
                progress=False, log=_quiet)
    assert t.teacher.mode == "points"
    x = next(iter(t.loader))["image"]
    assert x.shape[-1] == 96
    tmodel, tcodec, _, _ = load_model(teacher)
    with torch.no_grad():
        small = torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False,
                                                antialias=True)
        expected = tcodec.decode(tmodel(small))[0] * 1.5
    torch.testing.assert_close(t.teacher.points(x), expected)


@pytest.mark.parametrize("head", ["pip", "regression"])
def test_other_heads_learn_the_teacher_landmarks_as_a_second_label(fixtures, tmp_path, teacher, head):
    weight = 0.25
    cfg = small_cfg(fixtures, tmp_path, head=head, epochs=1, extra=["data.input_size=64"])
    cfg = apply_overrides(cfg, [f"distill={{teacher: '{teacher}', weight: {weight}}}"])
    t = Trainer(cfg, tmp_path / "run", progress=False, log=_quiet)
    assert t.teacher.mode == "points"
    batch = next(iter(t.loader))
    calls = []

    def record(out, target, w):
        calls.append((target, w))
        return torch.tensor(float(len(calls)))  # 1 for the label, 2 for the teacher

    t.loss_fn = record
    loss = t._loss(batch)
    assert float(loss) == pytest.approx((1 - weight) * 1 + weight * 2)
    labels, _ = t.codec.encode(batch["landmarks"], batch["visible"])
    from_teacher, _ = t.codec.encode(t.teacher.points(batch["image"]))
    torch.testing.assert_close(calls[0][0], labels)
    torch.testing.assert_close(calls[1][0], from_teacher)
    assert not torch.allclose(from_teacher, labels)


def test_a_distilled_pip_student_trains(fixtures, tmp_path, teacher):
    logs = []
    cfg = apply_overrides(small_cfg(fixtures, tmp_path, head="pip", epochs=1), [f"distill={{teacher: '{teacher}'}}"])
    Trainer(cfg, tmp_path / "run", progress=False, log=lambda *a, **k: logs.append(" ".join(map(str, a)))).fit()
    assert (tmp_path / "run" / "final.safetensors").is_file()
    assert any("landmarks weigh 0.5 in the loss" in line for line in logs)
