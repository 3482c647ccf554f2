import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatmark.data.schemes import COFW29, IBUG68
from heatmark.engine.metrics import auc, ced, failure_rate, nme, summarize


def test_nme_hand_computed():
    gt = np.zeros((2, 68, 2))
    gt[:, 36] = [10, 50]
    gt[:, 45] = [50, 50]  # inter-ocular 40
    pred = gt.copy()
    pred[0, :, 0] += 4  # every point 4 px off -> 0.1
    pred[1, 0] += [3, 4]  # one point 5 px off -> 5/68/40
    np.testing.assert_allclose(nme(pred, gt, IBUG68), [0.1, 5 / 68 / 40])
    s = summarize(pred, gt, IBUG68)
    assert s["nme"] == pytest.approx((0.1 + 5 / 68 / 40) / 2 * 100)
    assert s["fr@0.08"] == 50.0 and s["fr@0.10"] == 0.0  # 0.1 is not > 0.1


def test_nme_ignores_hidden_points():
    gt = np.random.default_rng(0).random((1, 29, 2)) * 100
    pred = gt.copy()
    pred[0, 3] += 50
    vis = np.ones((1, 29), bool)
    vis[0, 3] = False
    assert nme(pred, gt, COFW29, visible=vis)[0] == 0.0


def test_success_rate_ignores_hidden_points():
    gt = np.random.default_rng(0).random((1, 29, 2)) * 100
    pred = gt.copy()
    pred[0, 3] += 50  # hidden (occluded) and far off: neither a success nor a failure
    pred[0, 4] += 10  # visible and 10 px off: a failure at 5 px
    vis = np.ones((1, 29), bool)
    vis[0, 3] = False
    s = summarize(pred, gt, COFW29, visible=vis)
    assert s["success@5px"] == pytest.approx(27 / 28 * 100)


def test_mean_signed_error_shows_a_bias():
    gt = np.zeros((1, 68, 2))
    gt[:, 36], gt[:, 45] = [10, 50], [50, 50]  # inter-ocular 40
    s = summarize(gt + [-2.0, 1.0], gt, IBUG68)
    assert s["mean_signed_error"] == pytest.approx([-5.0, 2.5])  # % of the 40 px distance


def test_fr_auc_known_values():
    e = np.array([0.0, 0.05, 0.2])
    assert failure_rate(e, 0.1) == pytest.approx(1 / 3)
    # CED: 1/3 from 0, 2/3 from 0.05 -> area = 0.05*1/3 + 0.05*2/3 = 0.05, /0.1 -> 0.5
    assert auc(e, 0.1, steps=10000) == pytest.approx(0.5, abs=1e-3)
    x, y = ced(e, 0.1, 10)
    assert y[0] == pytest.approx(1 / 3) and y[-1] == pytest.approx(2 / 3)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=50), st.floats(0.01, 0.5))
def test_auc_fr_bounds(errors, t):
    e = np.array(errors)
    a, f = auc(e, t), failure_rate(e, t)
    assert 0 <= a <= 1 and 0 <= f <= 1
    if f == 1:
        assert a == 0


def test_nme_without_jaw_is_mean_of_inner_per_point():
    rng = np.random.default_rng(1)
    gt = rng.random((4, 68, 2)) * 100
    gt[:, 36], gt[:, 45] = [20, 50], [80, 50]
    pred = gt + rng.normal(0, 2, gt.shape)
    pred[:, :17] += 10  # a jaw offset
    s = summarize(pred, gt, IBUG68)
    d = IBUG68.norm_distance(gt)
    expect = np.mean(np.linalg.norm(pred[:, 17:] - gt[:, 17:], axis=-1).mean(-1) / d) * 100
    assert s["nme_no_jaw"] == pytest.approx(expect) and s["nme_no_jaw"] < s["nme"]
