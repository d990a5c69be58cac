"""`NgramIndex`: which word n-grams occur in a model's training text, for novelty and copy checks.

Text is normalised (NFKC, lowercased) and split into words by `\\w+`. The index keeps the 64-bit xxhash of every
word k-gram (k = 1..n) of every training post, sorted and deduplicated in one numpy uint64 array, so membership is
a `searchsorted` and memory is 8 bytes per distinct k-gram: at most n per training word, fewer in practice (short
k-grams repeat; the quickstart's 31k training posts give 0.86M distinct k-grams, 6.8 MB, built in ~2 s). Keeping the shorter k-grams is what lets `longest_match` answer below n: any
run of words that occurs in training text is a k-gram of some post. A second array holds the hashes of whole
normalised posts, so a short text (fewer than n words) can still be recognised as a copy of a short post.

Hash collisions: with 64-bit hashes, a false hit needs ~2^32 distinct k-grams before it becomes likely; the
index is a screen, not a proof.

    idx = NgramIndex.from_texts(posts, n=8)
    idx = NgramIndex.for_run("run/")              # the run's training posts, cached in run/cache/ngrams-8.npz
    idx.overlap(text)  idx.longest_match(text)  idx.contains(text)
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path
from collections.abc import Iterable

import numpy as np
import xxhash

from warble.errors import InputError

_WORD = re.compile(r"\w+")
_SEP = "\x1f"  # joins the words of a k-gram before hashing (no \w character, so no ambiguity)
_POST_MARK = "\x02"  # whole-post hashes live in their own array; the mark keeps them apart from k-grams anyway
CACHE_FORMAT = "warble.ngrams/v1"
COPY_OVERLAP = 0.5  # contains(): at least half of a text's n-grams occur in training text


def words(text: str) -> list[str]:
    """The normalised words of `text`: NFKC, lowercased, runs of \\w characters."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def _hash(parts: list[str]) -> int:
    return xxhash.xxh3_64_intdigest(_SEP.join(parts).encode())


def _gram_hashes(ws: list[str], k: int) -> list[int]:
    return [_hash(ws[i:i + k]) for i in range(len(ws) - k + 1)]


def _post_hash(ws: list[str]) -> int:
    return xxhash.xxh3_64_intdigest((_POST_MARK + " ".join(ws)).encode())


def _sorted_unique(values: list[int] | np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(values, dtype=np.uint64))


class NgramIndex:
    """Sorted hashes of every word k-gram (k <= n) and of every whole post of some training text."""

    def __init__(self, grams: np.ndarray, posts: np.ndarray, n: int, key: str = ""):
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.grams, self.posts, self.n, self.key = grams, posts, n, key

    # ------------------------------------------------------------------------------------------------ building
    @classmethod
    def from_texts(cls, texts: Iterable[str], n: int = 8, chunk: int = 50_000) -> NgramIndex:
        """Index `texts` (training posts). Hashes are deduplicated every `chunk` posts to bound memory."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        gram_parts, post_parts = [], []
        grams: list[int] = []
        posts: list[int] = []
        for i, text in enumerate(texts, 1):
            ws = words(text)
            if not ws:
                continue
            posts.append(_post_hash(ws))
            for k in range(1, min(n, len(ws)) + 1):
                grams += _gram_hashes(ws, k)
            if i % chunk == 0:
                gram_parts.append(_sorted_unique(grams))
                post_parts.append(_sorted_unique(posts))
                grams, posts = [], []
        gram_parts.append(_sorted_unique(grams))
        post_parts.append(_sorted_unique(posts))
        return cls(np.unique(np.concatenate(gram_parts)), np.unique(np.concatenate(post_parts)), n)

    @classmethod
    def for_run(cls, run_dir: str | Path, n: int = 8, progress: bool = False) -> NgramIndex:
        """The index of a run's training posts: decoded from the train token shards its config.toml names (control
        and special tokens dropped; planted canaries left out), cached in RUN/cache/ngrams-<n>.npz and rebuilt
        when the shards change."""
        from warble.tokenizer.canaries import iter_train_texts, shards_identity, tokens_dir_for_run

        tokens_dir = tokens_dir_for_run(run_dir)
        key = hashlib.sha256(f"{CACHE_FORMAT}|{n}|{shards_identity(tokens_dir)}".encode()).hexdigest()
        cache = Path(run_dir) / "cache" / f"ngrams-{n}.npz"
        if cache.is_file():
            try:
                idx = cls.load(cache)
            except InputError:
                idx = None  # unreadable cache: rebuild it
            if idx is not None and idx.key == key and idx.n == n:
                return idx
        idx = cls.from_texts(iter_train_texts(tokens_dir, progress=progress), n=n)
        idx.key = key
        cache.parent.mkdir(parents=True, exist_ok=True)
        idx.save(cache)
        return idx

    # ------------------------------------------------------------------------------------------------ queries
    def __len__(self) -> int:
        """Distinct k-grams (k = 1..n) indexed."""
        return len(self.grams)

    def _member(self, hashes: list[int]) -> np.ndarray:
        h = np.asarray(hashes, dtype=np.uint64)
        if not len(self.grams) or not len(h):
            return np.zeros(len(h), dtype=bool)
        pos = np.searchsorted(self.grams, h)
        return self.grams[np.minimum(pos, len(self.grams) - 1)] == h

    def overlap(self, text: str, k: int | None = None) -> float:
        """Fraction of the text's word k-grams (default k = n) that occur in training text; 0.0 when the text has
        fewer than k words."""
        k = self.n if k is None else k
        if not 1 <= k <= self.n:
            raise ValueError(f"k must be in [1, {self.n}], got {k}")
        ws = words(text)
        if len(ws) < k:
            return 0.0
        return float(self._member(_gram_hashes(ws, k)).mean())

    def longest_match(self, text: str) -> int:
        """The longest run of consecutive words of `text` that occurs in training text, in words, capped at n."""
        ws = words(text)
        best = 0
        for k in range(1, min(self.n, len(ws)) + 1):
            # every sub-run of a run that occurs also occurs, so the first k with no hit ends the search
            if not self._member(_gram_hashes(ws, k)).any():
                break
            best = k
        return best

    def matches_post(self, text: str) -> bool:
        """True when the text equals a whole training post after normalisation."""
        ws = words(text)
        if not ws or not len(self.posts):
            return False
        h = np.uint64(_post_hash(ws))
        pos = int(np.searchsorted(self.posts, h))
        return pos < len(self.posts) and self.posts[pos] == h

    def contains(self, text: str) -> bool:
        """True when the text copies training text: at least half of its n-grams occur in training text, or it is
        shorter than n words and equals a whole training post after normalisation. (A short text that is only a
        piece of a longer post is not a copy: short phrases are shared by everyone.)"""
        ws = words(text)
        if len(ws) >= self.n:
            return self.overlap(text) >= COPY_OVERLAP
        return self.matches_post(text)

    # ------------------------------------------------------------------------------------------------ files
    def save(self, path: str | Path) -> None:
        """One .npz file (written to a temporary name, then renamed): grams, posts, n, key."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")  # per process: two builders never share it
        np.savez(tmp, grams=self.grams, posts=self.posts, n=np.int64(self.n), key=np.str_(self.key),
                 format=np.str_(CACHE_FORMAT))
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> NgramIndex:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["format"]) != CACHE_FORMAT:
                    raise InputError(f"{path}: format {str(z['format'])!r}, expected {CACHE_FORMAT!r}")
                return cls(z["grams"].astype(np.uint64), z["posts"].astype(np.uint64), int(z["n"]), str(z["key"]))
        except (OSError, ValueError, KeyError, EOFError) as e:
            raise InputError(f"{path}: not a readable n-gram index ({e})") from None
