"""Label adapters: a known convention change is learned back; the fit reads only its own set."""


import numpy as np
import pytest

from heatmark.adapter import LabelAdapter, canonical_frames, from_canonical, to_canonical


def _shapes(n: int = 200, k: int = 68, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(-1, 1, (k, 2))
    base[36], base[45] = [-0.5, -0.3], [0.5, -0.3]
    shapes = base + rng.normal(0, 0.05, (n, k, 2))
    ang = rng.uniform(-0.4, 0.4, n)
    rot = np.stack([np.stack([np.cos(ang), -np.sin(ang)], 1), np.stack([np.sin(ang), np.cos(ang)], 1)], 1)
    scale = rng.uniform(40, 120, n)[:, None, None]
    return np.einsum("nij,nkj->nki", rot, shapes) * scale + rng.uniform(100, 300, (n, 1, 2))


def test_canonical_frame_round_trip_and_normalisation():
    s = _shapes(10)
    a, o = canonical_frames(s)
    c = to_canonical(s, a, o)
    np.testing.assert_allclose(c[:, 45] - c[:, 36], np.tile([1.0, 0.0], (10, 1)), atol=1e-9)
    np.testing.assert_allclose(from_canonical(c, a, o), s, atol=1e-9)


def test_a_systematic_convention_change_is_learned_back():
    pred = _shapes(300)
    a, o = canonical_frames(pred)
    c = to_canonical(pred, a, o)
    c[:, :17] *= 1.12  # the "annotators" put the jaw 12 % farther out, in the face's own frame
    c[:, 17:27, 1] -= 0.05  # and the brows a little higher
    gt = from_canonical(c, a, o)
    ad = LabelAdapter.fit(pred[:200], gt[:200], ridge=1e-6)
    err_before = np.linalg.norm(pred[200:] - gt[200:], axis=-1).mean()
    err_after = np.linalg.norm(ad(pred[200:]) - gt[200:], axis=-1).mean()
    assert err_after < 0.01 * err_before
    np.testing.assert_allclose(ad(pred[200]), ad(pred[200:201])[0])  # one shape or a batch


def test_save_load_round_trip_and_a_bad_file(tmp_path):
    from heatmark.errors import DataError

    pred = _shapes(50)
    ad = LabelAdapter.fit(pred, pred + 1.0, ridge=1.0, info={"dataset": "x"})
    ad.save(tmp_path / "a.npz")
    back = LabelAdapter.load(tmp_path / "a.npz")
    np.testing.assert_allclose(back(pred), ad(pred), atol=1e-3)
    assert back.info["dataset"] == "x" and back.num_points == 68
    (tmp_path / "bad.npz").write_bytes(b"not an adapter")
    with pytest.raises(DataError, match="bad.npz: not a heatmark label adapter"):
        LabelAdapter.load(tmp_path / "bad.npz")
    with pytest.raises(DataError, match="not found"):
        LabelAdapter.load(tmp_path / "missing.npz")


def test_fit_reads_only_the_fitting_set_and_eval_applies_it(tiny_weights, fixtures, tmp_path, opened_files):
    """The adapter's fit opens no file of another data set (the evaluation set stays unseen)."""
    import shutil

    from heatmark.cli import main

    fit_set = tmp_path / "fit"
    shutil.copytree(fixtures / "300w", fit_set)
    other = tmp_path / "afw"  # stands for the evaluation set: must never be opened by the fit
    shutil.copytree(fixtures / "300w", other)
    with opened_files as rec:
        rc = main(["adapt", "--weights", str(tiny_weights["heatmap"]), "--dataset", "300w", "--root", str(fit_set),
                   "--out", str(tmp_path / "ad.npz"), "--folds", "2"])
    fit_opened = list(rec.paths)
    assert rc == 0 and (tmp_path / "ad.npz").is_file()
    assert not [p for p in fit_opened if str(other) in p]
    assert any(str(fit_set) in p and p.endswith(".pts") for p in fit_opened)
    assert main(["eval", "--dataset", "300w", "--root", str(other), "--weights", str(tiny_weights["heatmap"]),
                 "--adapter", str(tmp_path / "ad.npz"), "--json", str(tmp_path / "e.json")]) == 0
    import json

    assert json.loads((tmp_path / "e.json").read_text())["adapter"] == str(tmp_path / "ad.npz")


def test_landmarker_applies_an_adapter_like_eval(tiny_weights, fixtures, tmp_path):
    from heatmark.api import Landmarker
    from heatmark.engine.evaluate import evaluate_weights

    pred = _shapes(40)
    LabelAdapter.fit(pred, pred * 1.01 + 2.0, ridge=1.0).save(tmp_path / "a.npz")
    res = evaluate_weights(tiny_weights["heatmap"], "300w", fixtures / "300w", adapter=tmp_path / "a.npz",
                           device="cpu")
    lm = Landmarker(tiny_weights["heatmap"], detector=None, adapter=tmp_path / "a.npz")
    r, p = res.records[0], res.pred[0]
    lo, hi = r.landmarks.min(0), r.landmarks.max(0)
    np.testing.assert_allclose(lm.predict(r.load_image(), boxes=[[*lo, *hi]])[0].landmarks, p, atol=1e-3)
