"""Engagement metrics against values computed by hand (RecSys 2020 definitions, with sample weights)."""

import math

import numpy as np
import pytest

from warble.ads import metrics


def test_cross_entropy_and_rce_by_hand():
    # One positive impression and three negatives (weights), predicted 0.4 and 0.1.
    y, p, w = [1, 0], [0.4, 0.1], [1, 3]
    ce_model = -(math.log(0.4) + 3 * math.log(0.9)) / 4
    ce_base = -(math.log(0.25) + 3 * math.log(0.75)) / 4  # the base rate is 1/4
    assert metrics.cross_entropy(y, p, w) == pytest.approx(ce_model)
    assert metrics.rce(y, p, w) == pytest.approx((1 - ce_model / ce_base) * 100)
    assert metrics.rce(y, p, w) == pytest.approx(45.212, abs=1e-3)


def test_rce_of_the_base_rate_is_zero_and_worse_is_negative():
    y = np.array([1, 0, 0, 0, 1, 0])
    assert metrics.rce(y, np.full(6, 2 / 6)) == pytest.approx(0.0, abs=1e-9)
    assert metrics.rce(y, np.where(y == 1, 0.1, 0.9)) < 0
    assert metrics.rce(y, np.where(y == 1, 0.9, 0.1)) > 0
    assert math.isnan(metrics.rce([0, 0], [0.1, 0.2]))  # nothing to improve on


def test_pr_auc_by_hand():
    s = [0.9, 0.8, 0.7, 0.6]
    # Positives at ranks 1 and 3: 0.5 * 1 + 0.5 * 2/3.
    assert metrics.pr_auc([1, 0, 1, 0], s) == pytest.approx(0.5 + 0.5 * 2 / 3)
    # The first positive counts twice: recall steps 2/3 then 1/3, precision 1 then 3/4.
    assert metrics.pr_auc([1, 0, 1, 0], s, [2, 1, 1, 1]) == pytest.approx(2 / 3 + 1 / 3 * 3 / 4)
    assert math.isnan(metrics.pr_auc([0, 0], [0.3, 0.2]))


def test_weights_equal_repeated_rows():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40).astype(float)
    p = rng.uniform(0.01, 0.99, 40)
    w = rng.integers(1, 5, 40)
    rep = np.repeat(np.arange(40), w)
    assert metrics.rce(y, p, w) == pytest.approx(metrics.rce(y[rep], p[rep]))
    assert metrics.pr_auc(y, p, w) == pytest.approx(metrics.pr_auc(y[rep], p[rep]))
    assert metrics.cross_entropy(y, p, w) == pytest.approx(metrics.cross_entropy(y[rep], p[rep]))


def test_reliability_and_ece_by_hand():
    y, p = [0, 0, 1, 0], [0.1, 0.1, 0.3, 0.3]
    table = metrics.reliability(y, p, bins=2)
    assert [(b["predicted"], b["observed"], b["weight"]) for b in table] == [
        pytest.approx((0.1, 0.0, 2.0)), pytest.approx((0.3, 0.5, 2.0))]
    assert metrics.ece(table) == pytest.approx(0.5 * 0.1 + 0.5 * 0.2)
    # Bins hold equal weight, not equal rows.
    table = metrics.reliability([0, 1, 0], [0.1, 0.2, 0.3], [2, 1, 1], bins=2)
    assert [b["weight"] for b in table] == [2.0, 2.0]


def test_evaluate_and_plot(tmp_path):
    rng = np.random.default_rng(1)
    p = rng.uniform(0.01, 0.2, 500)
    y = (rng.uniform(size=500) < p).astype(float)
    r = metrics.evaluate(y, p)
    assert set(r) >= {"rce", "pr_auc", "ece", "base_rate", "reliability", "cross_entropy"}
    assert r["rce"] > 0 and r["pr_auc"] > r["base_rate"]
    out = metrics.plot_reliability({"like": {"baseline": r["reliability"]}}, tmp_path / "rel.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        metrics.rce([1, 0], [0.5])
