"""Exact and near-duplicate removal across the whole corpus, with state on disk.

Two phases, so that it scales past memory and runs on any executor:

1. `dedup_keys(texts)` runs inside each shard task: an exact key (xxh64 of the text after dedup
   normalization) and MinHash LSH band keys (rensa MinHash over character 5-grams, bands folded to uint64).
   The shard task writes them to a small .npy file beside its output.
2. `resolve_duplicates(...)` runs once over all shards. Two posts are linked when they share the exact key or any
   LSH band key; it reads ONE band at a time (optionally one hash range of it at a time), so its memory is a few
   bytes per post per pass, never the signatures. Then, in time order (created_at, then input order), a copy of
   an earlier post is dropped as `dedup.exact`, and a post linked to an earlier kept post as `dedup.near`.

Retweets and copies ("RT @user: text") normalize to their original's text, so they are exact duplicates.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import regex
import xxhash

from warble.data.clean.placeholders import SOCIAL_RE, URL_PLACEHOLDER

SHINGLE = 5  # character n-grams: short posts have too few words for word shingles to be reliable
SEED = 1234

REASON_EXACT = "dedup.exact"
REASON_NEAR = "dedup.near"


@dataclass(frozen=True)
class DedupConfig:
    exact: bool = True
    near: bool = True
    threshold: float = 0.7  # Jaccard similarity of character 5-gram sets above which posts are near-duplicates
    num_perm: int = 128
    max_rows_per_pass: int = 50_000_000  # bounds memory of `resolve_duplicates` (16 bytes a row per pass)


_RT_PREFIX = re.compile(r"^(?:rt\s+@\w+:?\s*)+", re.IGNORECASE)
_URL_PLACEHOLDER = re.compile(rf"\b{URL_PLACEHOLDER}\b")
# Not `[\W_]`: Thai, Devanagari and other scripts write vowels as combining marks, which `\w` leaves out
# ("ไป ไม่ ได้" and "ไป ไม ได" are different words).
_NON_WORD = regex.compile(r"[^\w\p{M}]+|_+")


def _drop_links_and_mentions(m: re.Match) -> str:
    return m.group() if m.lastgroup == "hashtag" else " "


def dedup_text(text: str) -> str:
    """The text two copies share: no RT prefix, links, mentions, case, punctuation or spacing differences."""
    t = _RT_PREFIX.sub("", text.strip())
    t = _URL_PLACEHOLDER.sub(" ", SOCIAL_RE.sub(_drop_links_and_mentions, t))
    t = unicodedata.normalize("NFKC", t).casefold()
    return _NON_WORD.sub(" ", t).strip()


def _key(normal: str, text: str) -> int:
    # A post with no words left (only emoji, links or punctuation) is compared by its full text instead: all such
    # posts would otherwise share the empty key.
    return xxhash.xxh64_intdigest((normal or "\0" + text).encode("utf-8"), seed=SEED)


def exact_key(text: str) -> int:
    return _key(dedup_text(text), text)


def _shingles(t: str) -> list[str]:
    if len(t) <= SHINGLE:
        return [t]
    return [t[i : i + SHINGLE] for i in range(len(t) - SHINGLE + 1)]


def _false_rates(threshold: float, b: int, r: int) -> tuple[float, float]:
    """Probability mass of false positives (J < t) and false negatives (J >= t) of a b x r banding."""
    xs = np.linspace(0.0, 1.0, 1001)
    p = 1.0 - (1.0 - xs**r) ** b
    below, above = xs < threshold, xs >= threshold
    return float(np.trapezoid(p[below], xs[below])), float(np.trapezoid(1.0 - p[above], xs[above]))


@lru_cache(maxsize=None)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """Bands b and rows r (b * r <= num_perm) minimising false positives + false negatives, as in MinHash LSH."""
    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp, fn = _false_rates(threshold, b, r)
            if fp + fn < best_err:
                best, best_err = (b, r), fp + fn
    return best


def _fold_bands(sig: np.ndarray, b: int, r: int) -> np.ndarray:
    """uint32 signatures [n, >= b*r] -> one uint64 key per band [n, b] (a multiply-xorshift mix per row)."""
    bands = sig[:, : b * r].astype(np.uint64).reshape(len(sig), b, r)
    h = np.full((len(sig), b), 0x9E3779B97F4A7C15, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(r):
            h ^= bands[:, :, j]
            h *= np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(31)
        h += np.arange(b, dtype=np.uint64) * np.uint64(0x94D049BB133111EB)  # distinct key spaces per band
    return h


def dedup_keys(texts: Sequence[str], cfg: DedupConfig) -> np.ndarray:
    """uint64 [n, 1 + bands]: column 0 the exact key, then the LSH band keys (none when near dedup is off)."""
    import rensa  # imported here: only shard workers need it

    normal = [dedup_text(t) for t in texts]
    exact = np.fromiter((_key(n, t) for n, t in zip(normal, texts)), dtype=np.uint64, count=len(texts))
    if not cfg.near or not texts:
        return exact[:, None]
    b, r = lsh_params(cfg.threshold, cfg.num_perm)
    sig = np.array(rensa.RMinHash.digests_from_token_sets([_shingles(t) for t in normal], cfg.num_perm, SEED),
                   dtype=np.uint32)
    return np.concatenate([exact[:, None], _fold_bands(sig, b, r)], axis=1)


@dataclass
class DedupShard:
    """What resolve_duplicates needs from one shard: its key file and the posts' order keys."""

    keys_path: Path  # .npy uint64 [n, 1 + bands]
    order_path: Path  # .npy int64 [n]: created_at in ms (missing = max), ties broken by input order


def _buckets(shards: list[DedupShard], offsets: np.ndarray, rank: np.ndarray, col: int, passes: int,
             rep: np.ndarray | None = None):
    """Per pass, the posts that share the key in column `col` with another post, and the earliest such post
    (by rank) of each one's bucket. With `rep`, each post stands for its representative `rep[post]`, once."""
    for p in range(passes):
        keys, ids = [], []
        for s, off in zip(shards, offsets):
            k = np.load(s.keys_path, mmap_mode="r")[:, col]
            sel = np.nonzero((k % np.uint64(passes)) == p)[0] if passes > 1 else np.arange(len(k))
            keys.append(np.asarray(k[sel]))
            ids.append(sel.astype(np.int64) + off)
        k, i = np.concatenate(keys), np.concatenate(ids)
        if rep is not None:
            i = rep[i]
        by = np.lexsort((rank[i], k))
        k, i = k[by], i[by]
        if rep is not None:
            fresh = np.concatenate([[True], (k[1:] != k[:-1]) | (i[1:] != i[:-1])])
            k, i = k[fresh], i[fresh]
        starts = np.concatenate([[True], k[1:] != k[:-1]])
        run = np.cumsum(starts) - 1
        shared = np.bincount(run)[run] > 1
        if shared.any():
            yield i[shared], i[np.flatnonzero(starts)][run][shared]


def resolve_duplicates(shards: list[DedupShard], cfg: DedupConfig) -> list[np.ndarray]:
    """Per shard, an int8 array: 0 keep, 1 drop as exact duplicate, 2 drop as near duplicate.

    Greedy in time order, as a platform sees posts arrive: a copy of an earlier post (same exact key) shares that
    post's fate, and any other post is dropped when one of its LSH buckets already holds a kept post. This is
    not the connected components of the similarity graph: on short templated posts ("can't stop thinking about
    the launch / the finale / ...") chains of pairwise near-duplicates link posts that are not alike, and a
    component would drop all but one of them.
    """
    sizes = np.array([len(np.load(s.order_path, mmap_mode="r")) for s in shards], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    n = int(sizes.sum())
    verdict = np.zeros(n, dtype=np.int8)
    if n == 0:
        return [verdict[:0] for _ in shards]
    order = np.concatenate([np.load(s.order_path) for s in shards])
    by_time = np.lexsort((np.arange(n), order))  # created_at, then input position
    rank = np.empty(n, dtype=np.int64)
    rank[by_time] = np.arange(n)
    passes = max(1, -(-n // cfg.max_rows_per_pass))

    first = np.arange(n)  # the earliest post with the same exact key: copies share its fate
    if cfg.exact:
        for member, run_first in _buckets(shards, offsets, rank, 0, passes):
            first[member] = run_first
    kept = np.ones(n, dtype=bool)
    if cfg.near:
        # (post, bucket) memberships between distinct texts; a bucket is named by its column and earliest post.
        ncols = np.load(shards[0].keys_path, mmap_mode="r").shape[1]
        posts, buckets = [], []
        for col in range(1, ncols):
            for member, run_first in _buckets(shards, offsets, rank, col, passes, rep=first):
                posts.append(member)
                buckets.append(run_first * ncols + col)
        if posts:
            posts, buckets = np.concatenate(posts), np.unique(np.concatenate(buckets), return_inverse=True)[1]
            by = np.argsort(rank[posts], kind="stable")
            posts, buckets = posts[by], buckets[by]
            bounds = np.flatnonzero(np.concatenate([[True], posts[1:] != posts[:-1], [True]]))
            has_kept = np.zeros(int(buckets.max()) + 1, dtype=bool)
            # The one sequential step, over posts in shared buckets only, in time order.
            for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
                mine = buckets[a:b]
                if has_kept[mine].any():
                    kept[posts[a]] = False
                else:
                    has_kept[mine] = True
            verdict[~kept] = 2
    copies = np.flatnonzero(first != np.arange(n))
    verdict[copies] = np.where(kept[first[copies]], 1, 2)  # a copy of a near duplicate is a near duplicate too
    return [verdict[o : o + s] for o, s in zip(offsets, sizes)]


REASONS = {1: REASON_EXACT, 2: REASON_NEAR}
