"""Ranking ad-copy candidates: predicted engagement, then diversity by maximal marginal relevance (MMR).

Predicted engagement is, with an engagement model (warble.ads.engagement), the expected engagements per impression
it predicts (the sum of its per-engagement probabilities). Without one, the Warble model judges by itself through
its engagement control tokens: the log-likelihood ratio

    contrast(text) = log P(text | <|eng:4|>) - log P(text | <|eng:0|>)        (nats; same lang/topic/original tokens)

which is, by Bayes, log P(high | text) / P(low | text) up to a constant: how much more the text looks like a post
from the 100+ engagement bucket than one nobody engaged with. Control tokens are special and text never encodes to
them, so `Engine.score(texts, contexts)` cannot carry them; the scores come from `Engine.generate` with echo,
max_tokens=0 and logprobs, whose `conditions` put the control tokens in front.

MMR (Carbonell & Goldstein 1998) then orders the candidates: each step picks the one maximising
    lam * relevance_i - (1 - lam) * max_{j already picked} cos(v_i, v_j)
with relevance the engagement score min-max scaled to [0, 1] over the candidates and v the Engine.embed vectors
(L2-normalised). lam = 1 is pure engagement order; lower values trade it for variety.
"""

from __future__ import annotations

import numpy as np

HIGH_BUCKET, LOW_BUCKET = 100, 0  # likes + reposts: the top (100+) and bottom (0) control buckets


def _text_logprobs(engine, texts: list[str], conditions: dict) -> np.ndarray:
    from warble.serve.types import SamplingParams

    n_prefix = 1 + len(engine.tokenizer.control_ids(**conditions))  # [bos] + control tokens
    params = SamplingParams(max_tokens=0, echo=True, logprobs=0, conditions=conditions)
    outs = engine.generate(list(texts), params)
    return np.array([sum(t.logprob for t in c.logprobs[n_prefix:]) for c in outs], dtype=np.float64)


def engagement_contrast(engine, texts: list[str], conditions: dict) -> np.ndarray:
    """log P(text | top engagement bucket) - log P(text | bottom bucket), nats, one per text."""
    base = {k: v for k, v in conditions.items() if k != "engagement"}
    high = _text_logprobs(engine, texts, {**base, "engagement": HIGH_BUCKET})
    low = _text_logprobs(engine, texts, {**base, "engagement": LOW_BUCKET})
    return high - low


def _post_dicts(texts: list[str], brief) -> list[dict]:
    """The candidates as posts the engagement model knows: the link as the corpus writes it (its URL placeholder
    in the text, the URL in `urls`), an original post in the brief's language."""
    from warble.data.clean.placeholders import URL_PLACEHOLDER

    return [{"text": f"{t} {URL_PLACEHOLDER}" if brief.url else t, "lang": brief.lang,
             "urls": [brief.url] if brief.url else [], "mentions": [], "reply": False} for t in texts]


def predicted_engagement(model, texts: list[str], brief) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Expected engagements per impression (sum over the model's engagement kinds) and the per-kind values."""
    per_kind = {k: np.asarray(v, dtype=np.float64) for k, v in model.predict(_post_dicts(texts, brief)).items()}
    return np.sum(list(per_kind.values()), axis=0), per_kind


def mmr(relevance: np.ndarray, vectors: np.ndarray, lam: float) -> list[dict]:
    """MMR order: one dict per pick with its index, scaled relevance, redundancy (max cosine to earlier picks, 0 for
    the first), the MMR value, and which earlier pick it resembles most."""
    if not 0 <= lam <= 1:
        raise ValueError(f"lambda must be in [0, 1], got {lam}")
    rel = np.asarray(relevance, dtype=np.float64)
    span = rel.max() - rel.min() if len(rel) else 0.0
    scaled = (rel - rel.min()) / span if span > 0 else np.ones_like(rel)
    sims = np.asarray(vectors, dtype=np.float64) @ np.asarray(vectors, dtype=np.float64).T
    left, picked, out = list(range(len(rel))), [], []
    while left:
        red = {i: (max(sims[i, j] for j in picked) if picked else 0.0) for i in left}
        value = {i: lam * scaled[i] - (1 - lam) * red[i] for i in left}
        best = max(left, key=lambda i: (value[i], -i))  # ties: the earlier candidate
        like = max(picked, key=lambda j: sims[best, j]) if picked else None
        out.append({"index": best, "relevance": float(scaled[best]), "redundancy": float(red[best]),
                    "mmr": float(value[best]), "most_like": like})
        picked.append(best)
        left.remove(best)
    return out


def rank_candidates(engine, texts: list[str], brief, conditions: dict, *, engagement=None,
                    lam: float = 0.7) -> list[dict]:
    """The texts in ranked order, each {"index", "score", "parts", "reasons"}: score is the predicted engagement
    (the engagement model's if given, else the contrast), parts every number behind the rank."""
    contrast = engagement_contrast(engine, texts, conditions)
    if engagement is not None:
        score, per_kind = predicted_engagement(engagement, texts, brief)
        source = "expected engagements per impression (engagement model)"
    else:
        score, per_kind = contrast, {}
        source = "log P(text | eng 100+) - log P(text | eng 0), nats"
    order = mmr(score, engine.embed(list(texts)), lam)
    out = []
    for pos, pick in enumerate(order):
        i = pick["index"]
        parts = {"engagement": float(score[i]), "contrast_nats": float(contrast[i]),
                 **{f"p_{k}": float(v[i]) for k, v in per_kind.items()},
                 "relevance": pick["relevance"], "redundancy": pick["redundancy"], "mmr": pick["mmr"],
                 "lambda": lam}
        reasons = [f"predicted engagement {score[i]:+.3f} ({source})",
                   f"MMR {pick['mmr']:.3f} = {lam:g} x relevance {pick['relevance']:.2f} - {1 - lam:g} x "
                   + (f"similarity {pick['redundancy']:.2f} to rank {_rank_of(order, pick['most_like']) + 1}"
                      if pick["most_like"] is not None else "0 (first pick)")]
        out.append({"index": i, "score": float(score[i]), "parts": parts, "reasons": reasons})
    return out


def _rank_of(order: list[dict], index: int) -> int:
    return next(p for p, o in enumerate(order) if o["index"] == index)
