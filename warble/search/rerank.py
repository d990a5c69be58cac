"""The model reranker: reorder the first-stage top N by how well the Warble model ties query and post together.

    ranked = rerank(engine, "launch delayed", hits, top_n=20)       # list[Reranked], best first
    [r.hit.id for r in ranked]

Model score (`Engine.score`, per token so that lengths compare):
- `query_likelihood` (default): mean log P(query | post), the post as context. One scored text per candidate.
- `pmi`: mean log P(post | query) - mean log P(post): how much the query helps predict the post (two per candidate;
  the post's own prior cancels, so a generic, likely post does not win by being likely).
The model's order and the first stage's order are fused by weighted reciprocal rank fusion,
`(1 - weight) / (k + first_rank) + weight / (k + model_rank)` with k = 60 as in hybrid search: only ranks count, so
the model's log-probabilities need no calibration against BM25 or RRF scores. weight 1 is the model's order alone.
Candidates below the top N keep their first-stage order after the reranked ones (score 1 / (k + rank)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from warble.errors import InputError

METHODS = ("query_likelihood", "pmi")
RRF_K = 60
BATCH = 32  # texts per Engine.score call


@dataclass
class Reranked:
    hit: object  # warble.search.index.Hit
    score: float  # the fused score the list is ordered by
    model_score: float | None  # None: below the top N, not scored
    first_rank: int  # 1-based rank in the first stage

    def to_dict(self) -> dict:
        return {**self.hit.to_dict(), "score": self.score, "first_stage_score": self.hit.score,
                "first_stage_rank": self.first_rank, "model_score": self.model_score}


def query_text(query) -> str:
    """The words a model scores for a query: the positive words and phrases of a query-language string or AST (its
    filters say nothing a post's text could predict), or the text itself when it has none."""
    from warble.search import ast
    from warble.search.query import QuerySyntaxError, parse

    node = query
    if isinstance(query, str):
        try:
            node = parse(query)
        except QuerySyntaxError:
            return query.strip()
    words = ast.text_terms(node)
    return " ".join(words) if words else (query.strip() if isinstance(query, str) else "")


def _cut(engine, text: str, n: int) -> str:
    ids = engine.tokenizer.encode(text)
    return text if len(ids) <= n else engine.tokenizer.decode(ids[:max(n, 0)])


def _scores(engine, texts: list[str], contexts: list[str] | None) -> list[float]:
    out: list[float] = []
    for i in range(0, len(texts), BATCH):
        ctx = contexts[i:i + BATCH] if contexts is not None else None
        out += [s.mean_logprob for s in engine.score(texts[i:i + BATCH], contexts=ctx)]
    return out


def model_scores(engine, query: str, posts: Sequence[str], method: str = "query_likelihood") -> list[float]:
    """One model score per post text for the query (higher: more related); texts cut to fit the model's context."""
    if method not in METHODS:
        raise InputError(f"rerank method must be one of {', '.join(METHODS)}, got {method!r}")
    if not posts:
        return []
    q = _cut(engine, " ".join(query.split()), engine.max_context // 3)
    room = engine.max_context - 2 - engine.count_tokens(q + "\n")
    bodies = [_cut(engine, " ".join(p.split()), room) for p in posts]
    if method == "query_likelihood":
        return _scores(engine, [q] * len(bodies), [b + "\n" for b in bodies])
    given = _scores(engine, bodies, [q + "\n"] * len(bodies))
    alone = _scores(engine, bodies, None)
    return [g - a for g, a in zip(given, alone)]


def rerank(engine, query, hits: Sequence, top_n: int = 20, *, weight: float = 0.5,
           method: str = "query_likelihood") -> list[Reranked]:
    """Rerank the first `top_n` hits (first-stage order) by the model fused with their first-stage rank; `query` is
    a query string or AST (its words are scored). Returns every hit, best first."""
    if top_n < 1:
        raise InputError(f"rerank needs top_n >= 1, got {top_n}")
    if not 0 <= weight <= 1:
        raise InputError(f"rerank weight must be in [0, 1], got {weight}")
    head, tail = list(hits[:top_n]), list(hits[top_n:])
    text = query_text(query)
    scores = model_scores(engine, text, [h.text for h in head], method) if text else [0.0] * len(head)
    model_rank = {i: r for r, i in enumerate(sorted(range(len(head)), key=lambda i: (-scores[i], i)), 1)}
    fused = [Reranked(h, (1 - weight) / (RRF_K + i + 1) + weight / (RRF_K + model_rank[i]), scores[i], i + 1)
             for i, h in enumerate(head)]
    fused.sort(key=lambda r: (-r.score, r.first_rank))
    # Below the top N, as if the model ranked a hit where the first stage did: 1 / (k + r) < 1 / (k + N), the least
    # a head hit gets, so the tail stays below the head and in its order.
    rest = [Reranked(h, 1 / (RRF_K + r), None, r) for r, h in enumerate(tail, len(head) + 1)]
    return fused + rest
