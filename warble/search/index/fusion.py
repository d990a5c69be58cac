"""Fusing the lexical and dense candidate lists, and the optional recency and engagement boosts.

- Reciprocal rank fusion (default): score(d) = sum over the lists holding d of 1 / (k + rank), ranks from 1, k = 60
  (Cormack et al. 2009). Only ranks count, so BM25 and cosine need no common scale.
- Weighted: alpha * lexical + (1 - alpha) * dense, each score min-max normalised over its own candidate list (the
  best candidate 1, the worst 0; a list of one gives 1), 0 for a document the list does not hold.
Ties are broken by the better lexical rank, then the better dense rank, then the key, so results are reproducible.

Boosts multiply the fused score (off by default):
    score * (1 + recency_weight * 0.5 ** (age_days / half_life_days)) * (1 + engagement_weight * log10(1 + e))
with age measured from `now` (default: the newest post in the index, so a frozen corpus behaves like a live one)
and e = likes + reposts + replies + quotes (unknown counts as 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RRF_K = 60
FUSIONS = ("rrf", "weighted")


@dataclass
class Fused:
    key: int
    score: float
    lexical_rank: int | None
    dense_rank: int | None
    lexical_score: float | None
    dense_score: float | None


def fuse(lexical: list[tuple[int, float]], dense: list[tuple[int, float]], *, method: str = "rrf",
         k: int = RRF_K, alpha: float = 0.5) -> list[Fused]:
    """Both candidate lists are (key, score), best first. Returns every candidate, best first."""
    if method not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}, got {method!r}")
    items: dict[int, Fused] = {}
    for rank, (key, s) in enumerate(lexical, 1):
        items.setdefault(key, Fused(key, 0.0, None, None, None, None))
        items[key].lexical_rank, items[key].lexical_score = rank, s
    for rank, (key, s) in enumerate(dense, 1):
        items.setdefault(key, Fused(key, 0.0, None, None, None, None))
        items[key].dense_rank, items[key].dense_score = rank, s
    if method == "rrf":
        for f in items.values():
            f.score = sum(1.0 / (k + r) for r in (f.lexical_rank, f.dense_rank) if r is not None)
    else:
        lex_n, dense_n = _minmax(lexical), _minmax(dense)
        for f in items.values():
            f.score = alpha * lex_n.get(f.key, 0.0) + (1 - alpha) * dense_n.get(f.key, 0.0)
    return sorted(items.values(), key=_order)


def _order(f: Fused):
    big = 1 << 62
    return (-f.score, f.lexical_rank or big, f.dense_rank or big, f.key)


def _minmax(ranked: list[tuple[int, float]]) -> dict[int, float]:
    if not ranked:
        return {}
    scores = [s for _, s in ranked]
    lo, hi = min(scores), max(scores)
    return {key: 1.0 if hi == lo else (s - lo) / (hi - lo) for key, s in ranked}


def boost(score: float, post: dict, *, now_ms: int | None, recency_weight: float = 0.0, half_life_days: float = 7.0,
          engagement_weight: float = 0.0) -> float:
    factor = 1.0
    if recency_weight and now_ms is not None and post.get("created_at") is not None:
        age_days = max(0.0, (now_ms - post["created_at"]) / 86_400_000)
        factor *= 1 + recency_weight * 0.5 ** (age_days / half_life_days)
    if engagement_weight:
        e = sum(post.get(f) or 0 for f in ("like_count", "repost_count", "reply_count", "quote_count"))
        factor *= 1 + engagement_weight * math.log10(1 + max(e, 0))
    return score * factor
