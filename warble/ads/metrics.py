"""Engagement metrics as in the RecSys Challenge 2020 (run by Twitter), with sample weights.

- PR-AUC: average precision, sum over thresholds of (recall_k - recall_{k-1}) * precision_k (scikit-learn's
  definition, no interpolation).
- RCE: relative cross-entropy, (1 - CE(model) / CE(base-rate predictor)) * 100, where the base-rate predictor
  always predicts the (weighted) positive rate of the evaluated data. 0 = no better than the base rate; higher is
  better; negative = worse than predicting the rate.
- Calibration: expected calibration error over equal-weight bins of the prediction, and the reliability table.

Weights are impressions (see warble.ads.labels): a weighted example counts as that many identical rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

EPS = 1e-7


def _check(y, p, w):
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    w = np.ones_like(y) if w is None else np.asarray(w, dtype=np.float64)
    if not (y.shape == p.shape == w.shape) or y.ndim != 1:
        raise ValueError(f"y, p and w must be 1-D of one length, got {y.shape}, {p.shape}, {w.shape}")
    return y, p, w


def cross_entropy(y, p, w=None) -> float:
    """Weighted mean binary cross-entropy in nats (predictions clipped to [EPS, 1 - EPS])."""
    y, p, w = _check(y, p, w)
    p = np.clip(p, EPS, 1 - EPS)
    return float(-(w * (y * np.log(p) + (1 - y) * np.log(1 - p))).sum() / w.sum())


def rce(y, p, w=None) -> float:
    """Relative cross-entropy in percent against always predicting the data's weighted positive rate."""
    y, p, w = _check(y, p, w)
    rate = float((w * y).sum() / w.sum())
    if not 0 < rate < 1:  # all positive or all negative: nothing to improve on
        return float("nan")
    base = cross_entropy(y, np.full_like(p, rate), w)
    return (1.0 - cross_entropy(y, p, w) / base) * 100.0


def pr_auc(y, p, w=None) -> float:
    """Weighted average precision (area under the precision-recall curve); NaN without positives."""
    y, p, w = _check(y, p, w)
    if (w * y).sum() <= 0:
        return float("nan")
    return float(average_precision_score(y, p, sample_weight=w))


def reliability(y, p, w=None, bins: int = 10) -> list[dict]:
    """Equal-weight bins of the prediction (engagement rates are small, so fixed-width bins would put almost
    everything in the first): per bin the prediction range, weight, mean prediction and observed rate."""
    y, p, w = _check(y, p, w)
    order = np.argsort(p, kind="stable")
    y, p, w = y[order], p[order], w[order]
    cum = np.cumsum(w)
    # A bin ends after the row where the cumulative weight reaches its share.
    edges = np.searchsorted(cum, cum[-1] * np.arange(1, bins) / bins, side="left") + 1
    table = []
    for idx in np.split(np.arange(len(p)), np.unique(edges)):
        if len(idx) == 0 or w[idx].sum() <= 0:
            continue
        ww = w[idx]
        table.append({"lo": float(p[idx[0]]), "hi": float(p[idx[-1]]), "weight": float(ww.sum()),
                      "predicted": float((ww * p[idx]).sum() / ww.sum()),
                      "observed": float((ww * y[idx]).sum() / ww.sum())})
    return table


def ece(table: list[dict]) -> float:
    """Expected calibration error: weight-averaged |mean prediction - observed rate| over a reliability table."""
    total = sum(b["weight"] for b in table)
    return float(sum(b["weight"] * abs(b["predicted"] - b["observed"]) for b in table) / total) if total else \
        float("nan")


def evaluate(y, p, w=None, bins: int = 10) -> dict:
    """All the metrics of one engagement for one model."""
    y, p, w = _check(y, p, w)
    table = reliability(y, p, w, bins)
    return {"rce": rce(y, p, w), "pr_auc": pr_auc(y, p, w), "ece": ece(table),
            "cross_entropy": cross_entropy(y, p, w), "base_rate": float((w * y).sum() / w.sum()),
            "reliability": table}


def plot_reliability(tables: dict[str, dict[str, list[dict]]], path: str | Path) -> Path:
    """One panel per action, one line per model: mean prediction vs observed rate (log-log), the diagonal dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    actions = list(tables)
    fig, axes = plt.subplots(1, len(actions), figsize=(4 * len(actions), 4), squeeze=False)
    for ax, action in zip(axes[0], actions):
        lo, hi = 1.0, 0.0
        for model, table in tables[action].items():
            xs = [b["predicted"] for b in table]
            ys = [max(b["observed"], 1e-6) for b in table]
            ax.plot(xs, ys, marker="o", label=model)
            lo, hi = min([lo, *xs, *ys]), max([hi, *xs, *ys])
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(action)
        ax.set_xlabel("mean predicted rate")
        ax.set_ylabel("observed rate")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
