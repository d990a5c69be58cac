"""Quality of a sample of generations: diversity (distinct-n, self-BLEU) and novelty against the training text.

Texts are split into words as the n-gram index does (warble.data.ngrams.words: NFKC, lowercase, \\w+).

- distinct-n (Li et al. 2016): distinct word n-grams / all word n-grams, over the whole sample.
- self-BLEU (Zhu et al. 2018, Texygen): the mean BLEU-4 of each generation against all the others as references;
  higher = the samples resemble each other (less diverse). BLEU here is Papineni et al.'s sentence BLEU with
  uniform weights, clipped counts (the maximum count of an n-gram over the references), the brevity penalty of
  the closest reference length (the shorter on ties), and NLTK's smoothing "method1" (a precision with no match
  counts epsilon = 0.1 matches; no unigram in common scores 0), as Texygen computes it with NLTK. Generations shorter than 4 words are not
  scored as hypotheses (they have no 4-gram), but stay references.
- novelty: the fraction of the sample's word k-grams that never occur in the training text (an NgramIndex).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence

from warble.data.ngrams import NgramIndex, words

BLEU_N = 4
EPSILON = 0.1  # NLTK SmoothingFunction().method1


def ngrams(ws: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float | None:
    """Distinct word n-grams / all word n-grams over `texts` (None when they hold no n-gram)."""
    grams = [g for t in texts for g in ngrams(words(t), n)]
    return len(set(grams)) / len(grams) if grams else None


def _brevity_penalty(hyp_len: int, ref_lens: Sequence[int]) -> float:
    closest = min(ref_lens, key=lambda r: (abs(r - hyp_len), r))
    return 1.0 if hyp_len > closest else math.exp(1 - closest / hyp_len)


def bleu(hyp: Sequence[str], refs: Sequence[Sequence[str]], max_n: int = BLEU_N) -> float:
    """Sentence BLEU of word list `hyp` against word lists `refs` (method1 smoothing; 0 for an empty hypothesis)."""
    if not hyp or not refs:
        return 0.0
    log_p = 0.0
    for n in range(1, max_n + 1):
        counts = Counter(ngrams(hyp, n))
        total = sum(counts.values())
        if total == 0:
            return 0.0
        max_ref: Counter = Counter()
        for r in refs:
            for g, c in Counter(ngrams(r, n)).items():
                max_ref[g] = max(max_ref[g], c)
        clipped = sum(min(c, max_ref[g]) for g, c in counts.items())
        if n == 1 and clipped == 0:
            return 0.0  # as NLTK: no word in common, no smoothing
        log_p += math.log((clipped or EPSILON) / total) / max_n
    return _brevity_penalty(len(hyp), [len(r) for r in refs]) * math.exp(log_p)


def self_bleu(texts: Sequence[str], max_n: int = BLEU_N) -> float | None:
    """Mean BLEU of each text (with >= max_n words) against all the other texts; None when none qualifies.

    Equal to averaging `bleu(words(t_i), [words(t_j) for j != i])`, computed in one pass: for every n-gram the
    two largest counts over the texts (and which text has the largest) give the clip against "all but i"."""
    docs = [words(t) for t in texts]
    if len(docs) < 2:
        return None
    counts = [[Counter(ngrams(d, n)) for n in range(1, max_n + 1)] for d in docs]
    top: list[dict] = [{} for _ in range(max_n)]  # n-gram -> (largest count, its text, second largest count)
    for i, per_n in enumerate(counts):
        for n, cnt in enumerate(per_n):
            for g, c in cnt.items():
                best, who, second = top[n].get(g, (0, -1, 0))
                top[n][g] = (c, i, best) if c > best else (best, who, max(second, c))
    lens = sorted(len(d) for d in docs)
    scores = []
    for i, d in enumerate(docs):
        if len(d) < max_n:
            continue
        log_p = 0.0
        for n, cnt in enumerate(counts[i]):
            total = sum(cnt.values())
            clipped = 0
            for g, c in cnt.items():
                best, who, second = top[n][g]
                clipped += min(c, second if who == i else best)
            if n == 0 and clipped == 0:
                break  # as NLTK: no word in common scores 0
            log_p += math.log((clipped or EPSILON) / total) / max_n
        else:
            others = list(lens)
            del others[bisect_left(others, len(d))]  # the references are every length but this text's own
            scores.append(_brevity_penalty(len(d), others) * math.exp(log_p))
            continue
        scores.append(0.0)
    return sum(scores) / len(scores) if scores else None


def novelty(texts: Sequence[str], index: NgramIndex, k: int) -> float | None:
    """Fraction of the texts' word k-grams (k <= index.n) that do not occur in the training text."""
    hits = total = 0
    for t in texts:
        ws = words(t)
        if len(ws) >= k:
            m = len(ws) - k + 1
            hits += round(index.overlap(t, k=k) * m)
            total += m
    return 1 - hits / total if total else None


def quality(texts: Sequence[str], index: NgramIndex | None, novelty_ks: Sequence[int] = (4, 8)) -> dict:
    """distinct-1/2, self-BLEU and (with an index) novelty and the fraction of texts that copy training text."""
    out = {
        "samples": len(texts),
        "mean_words": round(sum(len(words(t)) for t in texts) / len(texts), 2) if texts else None,
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "self_bleu": self_bleu(texts),
    }
    if index is not None:
        out["novelty"] = {str(k): novelty(texts, index, k) for k in novelty_ks if k <= index.n}
        out["copied"] = sum(index.contains(t) for t in texts) / len(texts) if texts else None
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}
