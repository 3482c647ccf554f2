"""Losses against the published formulas at hand-computed points, both sides of each threshold."""

import math

import pytest
import torch

from heatmark.losses import (
    AdaptiveWingLoss,
    HeatmapMSELoss,
    L1Loss,
    MSELoss,
    SmoothL1Loss,
    SoftWingLoss,
    WingLoss,
    create_loss,
)


def _value_and_grad(loss, x, scale=1.0):
    """Loss of a single coordinate error x (pixels / scale) and d loss / d x."""
    pred = torch.tensor([[[x, 0.0]]], dtype=torch.float64, requires_grad=True)
    target = torch.zeros(1, 1, 2, dtype=torch.float64)
    v = loss(pred, target) * 2  # mean over the 2 coordinates; the y error is 0
    v.backward()
    return v.item(), pred.grad[0, 0, 0].item()


def test_wing_formula_both_sides():
    w = WingLoss(omega=10, epsilon=2)
    C = 10 - 10 * math.log(1 + 10 / 2)
    v, g = _value_and_grad(w, 5.0)
    assert v == pytest.approx(10 * math.log(1 + 5 / 2)) and g == pytest.approx(10 / (2 + 5))
    v, g = _value_and_grad(w, 15.0)
    assert v == pytest.approx(15 - C) and g == pytest.approx(1.0)
    v, g = _value_and_grad(w, -15.0)
    assert v == pytest.approx(15 - C) and g == pytest.approx(-1.0)
    # continuous at omega
    assert _value_and_grad(w, 10 - 1e-9)[0] == pytest.approx(_value_and_grad(w, 10 + 1e-9)[0], abs=1e-6)


def test_wing_parameters_are_in_pixels_for_normalised_targets():
    """On [0, 1] targets with pixel_scale = 256 a 15-pixel error is in the linear region."""
    w_px = WingLoss(10, 2)
    w_norm = WingLoss(10, 2, pixel_scale=256)
    v_px, _ = _value_and_grad(w_px, 15.0)
    v_norm, g_norm = _value_and_grad(w_norm, 15.0 / 256)
    assert v_norm == pytest.approx(v_px)
    assert g_norm == pytest.approx(256.0)  # d/dx of (256 x - C): linear region reached


def test_soft_wing_formula_both_sides():
    s = SoftWingLoss(omega1=2, omega2=20, epsilon=0.5)
    B = 2 - 20 * math.log(1 + 2 / 0.5)
    v, g = _value_and_grad(s, 1.0)
    assert v == pytest.approx(1.0) and g == pytest.approx(1.0)
    v, g = _value_and_grad(s, 5.0)
    assert v == pytest.approx(20 * math.log(1 + 5 / 0.5) + B) and g == pytest.approx(20 / (0.5 + 5))
    assert _value_and_grad(s, 2 - 1e-9)[0] == pytest.approx(_value_and_grad(s, 2 + 1e-9)[0], abs=1e-6)


def test_simple_coordinate_losses():
    assert _value_and_grad(MSELoss(), 3.0) == pytest.approx((9.0, 6.0))
    assert _value_and_grad(L1Loss(), -3.0) == pytest.approx((3.0, -1.0))
    assert _value_and_grad(SmoothL1Loss(beta=1.0), 0.5) == pytest.approx((0.125, 0.5))
    assert _value_and_grad(SmoothL1Loss(beta=1.0), 3.0) == pytest.approx((2.5, 1.0))
    assert _value_and_grad(MSELoss(pixel_scale=10), 0.3) == pytest.approx((9.0, 60.0))


def _awing_reference(y, yhat, omega=14, theta=0.5, eps=1, alpha=2.1):
    d, p = abs(y - yhat), alpha - y
    A = omega * (1 / (1 + (theta / eps) ** p)) * p * ((theta / eps) ** (p - 1)) / eps
    C = theta * A - omega * math.log(1 + (theta / eps) ** p)
    return omega * math.log(1 + (d / eps) ** p) if d < theta else A * d - C


def _awing_single(y, yhat):
    loss = AdaptiveWingLoss(map_weight=0.0)  # plain loss, no map weighting
    pred = torch.tensor([[[[yhat]]]], dtype=torch.float64, requires_grad=True)
    v = loss(pred, torch.tensor([[[[y]]]], dtype=torch.float64))
    v.backward()
    return v.item(), pred.grad.item()


@pytest.mark.parametrize("y,yhat", [(0.0, 0.2), (0.0, 0.9), (1.0, 0.7), (1.0, 0.1), (0.5, 0.55), (0.3, 0.95)])
def test_adaptive_wing_formula(y, yhat):
    v, g = _awing_single(y, yhat)
    assert v == pytest.approx(_awing_reference(y, yhat))
    h = 1e-6
    num = (_awing_reference(y, yhat + h) - _awing_reference(y, yhat - h)) / (2 * h)
    assert g == pytest.approx(num, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("y", [0.0, 0.4, 1.0])
def test_adaptive_wing_continuous_at_theta(y):
    below, g_below = _awing_single(y, y + 0.5 - 1e-7)
    above, g_above = _awing_single(y, y + 0.5 + 1e-7)
    assert below == pytest.approx(above, abs=1e-5)
    assert g_below == pytest.approx(g_above, rel=1e-4)  # A is the small branch's slope at theta


def test_adaptive_wing_loss_map_weights_dilated_foreground():
    loss = AdaptiveWingLoss(map_weight=10, threshold=0.2)
    t = torch.zeros(1, 1, 7, 7)
    t[0, 0, 3, 3] = 1.0
    m = loss.loss_map_weight(t)[0, 0]
    assert m[2:5, 2:5].eq(11).all() and m.sum().item() == 49 + 9 * 10


def test_weights_mask_points():
    pred = torch.tensor([[[1.0, 1.0], [5.0, 5.0]]])
    target = torch.zeros(1, 2, 2)
    w = torch.tensor([[1.0, 0.0]])
    for loss in (MSELoss(), L1Loss(), WingLoss(), SoftWingLoss()):
        assert loss(pred, target, w).item() == pytest.approx(loss(pred[:, :1], target[:, :1]).item())
    hp, ht = torch.rand(1, 2, 4, 4), torch.rand(1, 2, 4, 4)
    for loss in (HeatmapMSELoss(), AdaptiveWingLoss()):
        assert loss(hp, ht, w).item() == pytest.approx(loss(hp[:, :1], ht[:, :1]).item(), rel=1e-6)
    assert MSELoss()(pred, target, torch.zeros(1, 2)).item() == 0.0


def test_factory():
    assert isinstance(create_loss("wing", omega=5), WingLoss)
    from heatmark.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown loss"):
        create_loss("focal")
    with pytest.raises(ConfigError, match="wing"):
        create_loss("wing", omgea=5)
