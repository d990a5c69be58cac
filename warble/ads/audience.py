"""Audience targeting: the communities that match an ad brief, lookalikes of seed accounts, and their reach.

    comms, cached = load_or_learn(index, LearnOptions())            # warble.ads.communities
    result = target(comms, brief=Brief.load("brief.json"), seeds=["@ana"], embed=index.embedder.embed)

A brief matches a community by two signals, each scaled so the best community scores 1, then mixed
(`TargetOptions.alpha` is the embedding's share):
- embedding: cosine of the embedded `brief.describe()` to the community's mean post embedding (both centred on the
  corpus mean), when the index has embeddings;
- keywords: the brief's words (and `#word` for hashtags) weighted by the community's class-based TF-IDF.
The audience is every author with a membership in one of the chosen communities, ranked by
community score x membership. A lookalike audience ranks every other author by the cosine of their profile to the
seeds' mean profile; `reach` (a fraction of all authors) or `min_similarity` sets how far it reaches.

Reach counts distinct authors and their live posts in the last `days` days before `now` (default: the newest post
in the index, so a static corpus still has a meaningful window).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from warble.ads.brief import Brief
from warble.ads.communities import Communities, LivePosts, post_terms, text_terms
from warble.errors import ConfigError, InputError

SIMILARITIES = ("terms", "embedding", "both")
Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class TargetOptions:
    top: int = 3  # communities to target at most
    min_ratio: float = 0.5  # ... each scoring at least this fraction of the best one
    alpha: float = 0.25  # the embedding signal's share in a community's score (the rest: keywords)
    days: float = 30.0  # the reach window
    now_ms: int | None = None  # its end (default: the newest post)
    reach: float | None = None  # lookalike: the fraction of all authors to reach (default 0.05 without min_similarity)
    min_similarity: float | None = None  # lookalike: the least cosine to the seeds
    similarity: str = "terms"  # lookalike profiles: terms | embedding | both
    limit: int = 50  # authors listed in the output (reach counts them all)

    def check(self) -> None:
        if self.top < 1:
            raise ConfigError(f"top must be at least 1, got {self.top}")
        if not 0 <= self.alpha <= 1:
            raise ConfigError(f"alpha must be from 0 to 1, got {self.alpha}")
        if not self.days > 0:
            raise ConfigError(f"days must be positive, got {self.days}")
        if self.reach is not None and not 0 < self.reach <= 1:
            raise ConfigError(f"reach must be in (0, 1], got {self.reach}")
        if self.min_similarity is not None and not -1 <= self.min_similarity <= 1:
            raise ConfigError(f"min_similarity must be from -1 to 1, got {self.min_similarity}")
        if self.similarity not in SIMILARITIES:
            raise ConfigError(f"similarity must be one of {', '.join(SIMILARITIES)}, got {self.similarity!r}")
        if self.limit < 0:
            raise ConfigError(f"limit must not be negative, got {self.limit}")


# ----------------------------------------------------------------------------------------------------- briefs
def brief_text(brief: Brief) -> str:
    """What the brief is about, for the embedding: its description plus the words it must include."""
    return " ".join([brief.describe(), *brief.must_include])


def brief_words(brief: Brief) -> str:
    """What the brief is about, for keywords: its fields' own words, without describe()'s connecting words."""
    return " ".join(x for x in (brief.product, brief.brand, brief.audience, brief.topic, *brief.facts,
                                *brief.must_include) if x)


def brief_keywords(text: str) -> list[str]:
    """The brief's words, each also as a hashtag (`#word`) since posts tag their topics."""
    words = list(dict.fromkeys(text_terms(text)))
    return words + ["#" + w for w in words]


def _scaled(x: np.ndarray) -> np.ndarray:
    top = float(x.max()) if len(x) else 0.0
    return x / top if top > 0 else np.zeros_like(x)


def community_scores(comms: Communities, words: str, vector: np.ndarray | None, alpha: float) -> dict[str, np.ndarray]:
    """{"keyword", "embedding", "score"} per community (see the module docstring). `words`: the brief's keyword
    text (brief_words), `vector`: its embedding (of brief_text) or None."""
    keys = set(brief_keywords(words))
    weights = [info["term_weights"] for info in comms.communities]
    # A keyword that many communities share ("love", "new") says little about which one the brief wants: weight
    # each by its inverse community frequency, zero for a word every community uses. (Tried and measured no
    # better on the 50k corpus: prefix matching, "books" -> #bookclub; frequency among same-language communities.)
    df = Counter(t for w in weights for t in keys.intersection(w))
    kw = np.zeros(comms.k, np.float32)
    for c, w in enumerate(weights):
        norm = math.sqrt(sum(v * v for v in w.values())) or 1.0
        kw[c] = sum(w[t] * math.log(comms.k / df[t]) for t in keys.intersection(w)) / norm
    emb = np.zeros(comms.k, np.float32)
    if vector is not None and comms.emb_centroids is not None:
        v = np.asarray(vector, np.float32) - comms.emb_mean
        emb = comms.emb_centroids @ (v / (np.linalg.norm(v) or 1.0))
    a = alpha if vector is not None and comms.emb_centroids is not None else 0.0
    if not kw.any():
        a = 1.0 if vector is not None and comms.emb_centroids is not None else 0.0
    score = a * _scaled(np.maximum(emb, 0)) + (1 - a) * _scaled(kw)
    return {"keyword": kw, "embedding": emb, "score": score}


def choose_communities(score: np.ndarray, top: int, min_ratio: float) -> list[int]:
    order = [int(c) for c in np.argsort(-score) if score[c] > 0]
    return [c for c in order[:top] if score[c] >= min_ratio * score[order[0]]] if order else []


def rank_audience(comms: Communities, score: np.ndarray, chosen: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(author numbers, their scores), best first: community score x membership, over the chosen communities."""
    if not chosen:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    s = (comms.membership[:, chosen] * score[chosen]).max(axis=1)
    who = np.flatnonzero(s > 0)
    order = who[np.argsort(-s[who], kind="stable")]
    return order, s[order]


# ----------------------------------------------------------------------------------------------------- reach
@dataclass(frozen=True)
class Window:
    since_ms: int
    until_ms: int

    @classmethod
    def of(cls, comms: Communities, days: float, now_ms: int | None) -> Window:
        until = int(now_ms if now_ms is not None else (comms.post_ms.max() if len(comms.post_ms) else 0))
        return cls(until - int(days * 86_400_000), until)

    def recent_posts(self, comms: Communities) -> np.ndarray:
        """[A] live posts per author inside the window."""
        sel = (comms.post_ms > self.since_ms) & (comms.post_ms <= self.until_ms)
        return np.bincount(comms.post_author[sel], minlength=len(comms.authors))

    def to_dict(self) -> dict:
        iso = lambda ms: dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")
        return {"since": iso(self.since_ms), "until": iso(self.until_ms)}


def reach_of(authors: np.ndarray, recent: np.ndarray) -> dict:
    """Distinct authors with a post in the window, and their posts in it."""
    r = recent[authors]
    return {"authors": int((r > 0).sum()), "posts": int(r.sum())}


# ----------------------------------------------------------------------------------------------------- lookalikes
def resolve_seeds(comms: Communities, seeds: Sequence[str]) -> list[int]:
    """Author numbers of seed accounts given as `@handle` (case-insensitive) or author ids. Unknown ones (never
    posted, deleted, or opted out: not in the index) are an InputError naming them."""
    by_id = comms.author_number()
    by_handle = {h.lower(): i for i, h in enumerate(comms.handles) if h}
    found, missing = [], []
    for s in (s.strip() for s in seeds):
        if not s:
            continue
        i = by_handle.get(s[1:].lower()) if s.startswith("@") else by_id.get(s, by_handle.get(s.lower()))
        (found if i is not None else missing).append(i if i is not None else s)
    if missing:
        raise InputError(f"seed accounts not in the index (unknown, or no live posts): {', '.join(missing)}")
    if not found:
        raise InputError("no seed accounts given")
    return list(dict.fromkeys(found))


def lookalike(comms: Communities, seeds: list[int], *, similarity: str = "both", reach: float | None = None,
              min_similarity: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(author numbers, cosine to the seeds' mean profile), best first, seeds left out, cut by the dial: `reach`
    keeps that fraction of all authors, `min_similarity` those at least that close (both: both cuts)."""
    prof = comms.profiles(similarity)
    centre = prof[seeds].mean(axis=0)
    sims = prof @ (centre / (np.linalg.norm(centre) or 1.0))
    sims[seeds] = -np.inf
    order = np.argsort(-sims, kind="stable")
    order = order[np.isfinite(sims[order])]
    if reach is None and min_similarity is None:
        reach = 0.05
    if reach is not None:
        order = order[:max(1, math.ceil(reach * len(comms.authors)))]
    if min_similarity is not None:
        order = order[sims[order] >= min_similarity]
    return order, sims[order]


# ----------------------------------------------------------------------------------------------------- the answer
def _merged(comms: Communities, chosen: list[int], score: np.ndarray, hashtags: bool, n: int) -> list[str]:
    total: Counter = Counter()
    for c in chosen:
        for t, w in comms.communities[c]["term_weights"].items():
            if t.startswith("#") == hashtags:
                total[t] += w * float(score[c])
    return [t for t, _ in total.most_common(n)]


def _community_json(comms: Communities, c: int, score: dict, recent: np.ndarray) -> dict:
    info = comms.communities[c]
    members = np.flatnonzero(comms.membership[:, c] > 0)
    r = reach_of(members, recent)
    return {"id": c, "score": round(float(score["score"][c]), 4),
            "keyword_score": round(float(score["keyword"][c]), 4),
            "embedding_score": round(float(score["embedding"][c]), 4), "lang": info.get("lang"),
            "size_authors": info["size_authors"], "members": info["members"], "reach_authors": r["authors"],
            "reach_posts": r["posts"], "top_hashtags": info["top_hashtags"], "top_terms": info["top_terms"],
            "examples": info["examples"]}


def target(comms: Communities, *, brief: Brief | None = None, seeds: Sequence[str] = (), embed: Embed | None = None,
           opts: TargetOptions = TargetOptions()) -> dict:
    """The JSON answer of `warble ads audience` and POST /v1/ads/audience."""
    opts.check()
    if brief is None and not seeds:
        raise InputError("give a brief, seed accounts, or both")
    t0 = time.perf_counter()
    window = Window.of(comms, opts.days, opts.now_ms)
    recent = window.recent_posts(comms)
    out: dict = {"brief": brief.to_dict() if brief else None}
    reach: dict = {"days": opts.days, **window.to_dict()}
    if brief is not None:
        vector = embed([brief_text(brief)])[0] if embed is not None and comms.emb_centroids is not None else None
        score = community_scores(comms, brief_words(brief), vector, opts.alpha)
        chosen = choose_communities(score["score"], opts.top, opts.min_ratio)
        who, _ = rank_audience(comms, score["score"], chosen)
        out["communities"] = [_community_json(comms, c, score, recent) for c in chosen]
        out["hashtags"] = _merged(comms, chosen, score["score"], True, 10)
        out["keywords"] = _merged(comms, chosen, score["score"], False, 15)
        reach.update(audience_authors=len(who), **reach_of(who, recent))
    if seeds:
        seed_ids = resolve_seeds(comms, seeds)
        who, sims = lookalike(comms, seed_ids, similarity=opts.similarity, reach=opts.reach,
                              min_similarity=opts.min_similarity)
        out["lookalike"] = [{"author_id": comms.authors[a], "handle": comms.handles[a] or None,
                             "similarity": round(float(s), 4), "recent_posts": int(recent[a])}
                            for a, s in zip(who[:opts.limit], sims[:opts.limit])]
        reach["lookalike"] = {"seeds": [comms.authors[a] for a in seed_ids], "authors_total": len(who),
                              "min_similarity": round(float(sims[-1]), 4) if len(sims) else None,
                              **reach_of(who, recent)}
    out["estimated_reach"] = reach
    out["seconds"] = round(time.perf_counter() - t0, 4)
    return out


# ----------------------------------------------------------------------------------------------------- evaluation
def _precision(ranked: Sequence[int], relevant: np.ndarray, k: int) -> float | None:
    top = list(ranked[:k])
    return round(float(relevant[top].mean()), 4) if top else None


def load_interests(truth_dir: str | Path, authors: list[str]) -> tuple[list[str], np.ndarray]:
    """(topics, [A, T] bool: author has interest t) from the simulator's _truth/users.jsonl."""
    path = Path(truth_dir)
    path = path / "users.jsonl" if path.is_dir() else path
    if not path.is_file():
        raise InputError(f"no users.jsonl at {truth_dir} (the synthetic dump's _truth/ directory)")
    users = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            u = json.loads(line)
            users[str(u["id"])] = set(u.get("interests") or ())
    topics = sorted({t for s in users.values() for t in s})
    has = np.zeros((len(authors), len(topics)), bool)
    for i, a in enumerate(authors):
        for t in users.get(a, ()):
            has[i, topics.index(t)] = True
    return topics, has


def keyword_baseline(post_sets: list[set[str]], post_authors: np.ndarray, n_authors: int, text: str) -> np.ndarray:
    """Authors ranked by how many of their posts contain one of the brief's words or `#words` (no learning).
    `post_sets`: each post's terms (`post_terms`), `post_authors`: its author's number in the communities."""
    keys = set(brief_keywords(text))
    hits = np.zeros(n_authors)
    for terms, a in zip(post_sets, post_authors):
        if not keys.isdisjoint(terms):
            hits[a] += 1
    who = np.flatnonzero(hits > 0)
    return who[np.argsort(-hits[who], kind="stable")]


def evaluate(comms: Communities, posts: LivePosts, truth_dir: str | Path, *, embed: Embed | None = None,
             opts: TargetOptions = TargetOptions(), ks: Sequence[int] = (50, 200), n_seeds: int = 10,
             seed: int = 0) -> dict:
    """Precision@k against the simulator's user interests, per topic and on average:
    - brief targeting ("a brief about topic T" -> audience) vs the keyword/hashtag baseline;
    - lookalikes (n_seeds authors interested in T -> audience) per profile kind;
    - random: the share of authors interested in T (what a random audience scores)."""
    topics, has = load_interests(truth_dir, comms.authors)
    if not has.any():
        raise InputError(f"no author of the index appears in {truth_dir}: is it this corpus's ground truth?")
    rng = np.random.default_rng(seed)
    n_posts = np.bincount(comms.post_author, minlength=len(comms.authors))
    kinds = [k for k in SIMILARITIES if k == "terms" or comms.emb is not None]
    number = comms.author_number()
    post_sets = [set(post_terms(t, h, [])) for t, h in zip(posts.texts, posts.hashtags)]
    post_authors = np.asarray([number[posts.authors[a]] for a in posts.author])
    rows = {}
    for t, topic in enumerate(topics):
        rel = has[:, t]
        brief = Brief.from_dict({"product": f"{topic} gear", "audience": f"people who love {topic}", "topic": topic})
        vector = embed([brief_text(brief)])[0] if embed is not None and comms.emb_centroids is not None else None
        score = community_scores(comms, brief_words(brief), vector, opts.alpha)
        who, _ = rank_audience(comms, score["score"], choose_communities(score["score"], opts.top, opts.min_ratio))
        base = keyword_baseline(post_sets, post_authors, len(comms.authors), brief_words(brief))
        row = {"authors_with_interest": int(rel.sum()), "random": round(float(rel.mean()), 4),
               "brief": {f"p@{k}": _precision(who, rel, k) for k in ks}, "brief_audience": len(who),
               "keyword_baseline": {f"p@{k}": _precision(base, rel, k) for k in ks},
               "keyword_audience": len(base)}
        pool = np.flatnonzero(rel & (n_posts >= 3))
        if len(pool) >= n_seeds:
            seeds = rng.choice(pool, n_seeds, replace=False).tolist()
            for kind in kinds:
                ranked, _ = lookalike(comms, seeds, similarity=kind, reach=1.0)
                row[f"lookalike_{kind}"] = {f"p@{k}": _precision(ranked, rel, k) for k in ks}
        rows[topic] = row

    def mean(key: str, k: int) -> float | None:
        vals = [r[key][f"p@{k}"] for r in rows.values() if key in r and r[key][f"p@{k}"] is not None]
        return round(float(np.mean(vals)), 4) if vals else None

    methods = ["brief", "keyword_baseline"] + [f"lookalike_{k}" for k in kinds]
    summary = {m: {f"p@{k}": mean(m, k) for k in ks} for m in methods}
    summary["random"] = round(float(np.mean([r["random"] for r in rows.values()])), 4)
    return {"topics": len(topics), "authors": len(comms.authors), "ks": list(ks), "seeds_per_topic": n_seeds,
            "summary": summary, "per_topic": rows}
