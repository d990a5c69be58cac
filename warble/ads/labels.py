"""Engagement labels: per-impression binary examples built from per-post counts.

The RecSys Challenge 2020 labels one row per impression (was the post liked by the user it was shown to?). A corpus
only has, per post, how many times it was shown (`view_count`) and how many of those showings ended in each
engagement (`like_count`, ...). Those are exactly binomial observations: a post with `trials` impressions and
`count` likes stands for `count` positive impressions and `trials - count` negative ones. So every post becomes
(at most) two weighted binary examples,

    (y=1, weight=count)   and   (y=0, weight=trials - count),

and every metric is computed with these sample weights. Training logistic models on them maximises the binomial
likelihood of the counts; PR-AUC and RCE on them equal the per-impression metrics of the expanded data.

`trials` is the post's impression count where the corpus has one. Where it does not (API v1.1 data such as PHEME),
it is estimated as

    trials = reach * (author_followers + BASE_REACH) + fanout * repost_count,   at least max(counts)

(a share of the author's followers sees a post, plus each repost shows it to the reposter's audience). `reach` is
measured on the training corpus when it has impressions (median of views / (followers + BASE_REACH)), else
DEFAULT_REACH; `fanout` is DEFAULT_FANOUT when impressions are estimated. Both are recorded in the model's meta.json
and reused to label any corpus the model scores, so training and evaluation use one definition.

Posts are left out of an action when its count is unknown (null: unknown is not zero), when no impressions can be
known or estimated (no views and no followers), and when they are reposts (a repost carries its original's counts).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

ACTIONS = ("like", "repost", "reply", "quote")
COUNT_COLUMNS = {a: f"{a}_count" for a in ACTIONS}
BASE_REACH = 20.0     # impressions even an author with no followers gets (search, hashtags, replies)
DEFAULT_REACH = 0.1   # share of followers that sees a post, when no impressions are known to measure it
DEFAULT_FANOUT = 50.0  # extra impressions per repost, when impressions are estimated


@dataclass(frozen=True)
class LabelSpec:
    """How impressions are obtained: recorded in meta.json so scoring labels held-out corpora the same way."""

    reach: float = DEFAULT_REACH
    fanout: float = DEFAULT_FANOUT
    base_reach: float = BASE_REACH
    reach_source: str = "default"  # "measured" (from the training corpus's views) or "default"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LabelSpec:
        return cls(**{k: d[k] for k in ("reach", "fanout", "base_reach", "reach_source") if k in d})


def _floats(values) -> np.ndarray:
    """A nullable integer column (list or array with None) as float64 with NaN for unknown."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64) \
        if not isinstance(values, np.ndarray) else values.astype(np.float64)


def fit_label_spec(views, followers) -> LabelSpec:
    """Measure `reach` on a corpus that has impressions; otherwise the documented default."""
    views, followers = _floats(views), _floats(followers)
    both = ~np.isnan(views) & ~np.isnan(followers)
    if both.sum() >= 20:
        reach = float(np.median(views[both] / (followers[both] + BASE_REACH)))
        if reach > 0:
            return LabelSpec(reach=reach, reach_source="measured")
    return LabelSpec()


def impressions(views, followers, reposts, counts: dict[str, np.ndarray], spec: LabelSpec) -> np.ndarray:
    """Trials per post: the impression count where known, else the estimate above; NaN where neither exists."""
    views, followers, reposts = _floats(views), _floats(followers), _floats(reposts)
    estimate = spec.reach * (followers + spec.base_reach) + spec.fanout * np.nan_to_num(reposts)
    trials = np.where(np.isnan(views), estimate, views)
    most = np.fmax.reduce([_floats(c) for c in counts.values()]) if counts else np.zeros_like(trials)  # NaN-skipping
    # Never fewer impressions than engagements (the estimate can undershoot a viral post).
    return np.where(np.isnan(trials), np.nan, np.fmax(trials, np.nan_to_num(most)))


@dataclass
class ActionLabels:
    """One action's labels: per post (count, trials, valid) and the weighted examples derived from them."""

    count: np.ndarray   # float64 [posts]
    trials: np.ndarray  # float64 [posts]
    valid: np.ndarray   # bool [posts]: the post takes part for this action

    def examples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(post_index, y, weight): a positive example weighted by the count and a negative one weighted by the
        impressions without the engagement; zero-weight examples are dropped."""
        idx = np.flatnonzero(self.valid)
        pos, neg = self.count[idx], self.trials[idx] - self.count[idx]
        post = np.concatenate([idx[pos > 0], idx[neg > 0]])
        y = np.concatenate([np.ones(int((pos > 0).sum())), np.zeros(int((neg > 0).sum()))])
        w = np.concatenate([pos[pos > 0], neg[neg > 0]])
        return post, y, w

    def where(self, mask: np.ndarray) -> ActionLabels:
        """The same labels with only the posts of `mask` taking part."""
        return ActionLabels(self.count, self.trials, self.valid & mask)

    def take(self, idx: np.ndarray) -> ActionLabels:
        return ActionLabels(self.count[idx], self.trials[idx], self.valid[idx])

    def base_rate(self) -> float:
        t = self.trials[self.valid].sum()
        return float(self.count[self.valid].sum() / t) if t > 0 else float("nan")


def build_labels(columns: dict, spec: LabelSpec, actions=ACTIONS) -> dict[str, ActionLabels]:
    """Labels for every action in `actions` from corpus columns (view_count, author_followers, repost_of_id and
    the *_count columns). Actions whose column is absent get no valid posts."""
    n = len(columns["view_count"])
    counts = {a: _floats(columns[COUNT_COLUMNS[a]]) for a in actions if COUNT_COLUMNS[a] in columns}
    trials = impressions(columns["view_count"], columns["author_followers"],
                         columns.get("repost_count", [None] * n), counts, spec)
    original = np.array([r is None for r in columns.get("repost_of_id", [None] * n)], dtype=bool)
    out = {}
    for a in actions:
        c = counts.get(a, np.full(n, np.nan))
        valid = original & ~np.isnan(c) & ~np.isnan(trials) & (trials > 0)
        out[a] = ActionLabels(count=np.nan_to_num(c), trials=np.nan_to_num(trials), valid=valid)
    return out


def label_summary(labels: dict[str, ActionLabels]) -> dict[str, dict]:
    """Per action: posts used, impressions, engagements and the base rate (for meta.json and reports)."""
    return {a: {"posts": int(l.valid.sum()), "impressions": float(l.trials[l.valid].sum()),
                "engagements": float(l.count[l.valid].sum()), "base_rate": l.base_rate()}
            for a, l in labels.items()}
