"""Knowledge distillation (config ``distill``): the targets mix the label's Gaussians with a frozen teacher's
heatmaps; a teacher that does not fit the student is refused with a message naming ``distill.teacher``."""

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
    with pytest.raises(ConfigError, match=r"distill\.teacher.*input size 64 \(student 96\)"):
        Trainer(_student(fixtures, tmp_path, teacher, extra=["data.input_size=96"]), tmp_path / "a",
                progress=False, log=_quiet)
    with pytest.raises(ConfigError, match=r"distill\.teacher.*not found"):
        Trainer(_student(fixtures, tmp_path, tmp_path / "missing.safetensors"), tmp_path / "b", progress=False,
                log=_quiet)
    with pytest.raises(ConfigError, match="distill.*weight"):
        Trainer(_student(fixtures, tmp_path, teacher, weight=1.5), tmp_path / "c", progress=False, log=_quiet)


def test_distillation_needs_the_heatmap_head(fixtures, tmp_path, teacher):
    cfg = apply_overrides(small_cfg(fixtures, tmp_path, head="regression", epochs=1),
                          [f"distill={{teacher: '{teacher}'}}"])
    with pytest.raises(ConfigError, match="distill needs the heatmap head"):
        Trainer(cfg, tmp_path / "run", progress=False, log=_quiet)
