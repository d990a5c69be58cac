"""Features of a post for engagement prediction: hashed TF-IDF text n-grams and author/time/format tokens.

Posts travel as *columns* (a dict of equal-length lists/arrays), read from a corpus or built from post dicts:

    text             list[str]
    created_ms       float64 [N], epoch milliseconds UTC, NaN when unknown
    lang             list[str | None]
    author_followers float64 [N], NaN when unknown
    urls, mentions   list[list[str]]
    reply            bool [N]

Everything is hashed (no vocabulary to fit or store): word 1-2-grams and within-word character 2-4-grams of the
text, weighted by IDF (the only fitted state, one float32 vector per hashing space) and L2-normalised per post; and
one binary feature per tabular token ("fol=12", "hour=13", "lang=en", "media", ...), see `tabular_tokens`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

from warble.data.schema import parse_timestamp
from warble.errors import InputError

WORD_FEATURES = 2**18
CHAR_FEATURES = 2**18
TAB_FEATURES = 2**12
CORPUS_COLUMNS = ["id", "text", "created_at", "lang", "author_followers", "urls", "mentions", "reply_to_id",
                  "conversation_id", "repost_of_id", "like_count", "repost_count", "reply_count", "quote_count", "view_count"]
HASHTAG_RE = re.compile(r"(?:^|\s)#\w", re.UNICODE)
MENTION_RE = re.compile(r"(?:^|\s)@\w", re.UNICODE)
MEDIA_RE = re.compile(r"/photo/|/video/|pic\.twitter\.com|\.(?:jpe?g|png|gif|mp4)\b", re.IGNORECASE)
# Missing fields of a post dict given to EngagementModel.predict get these values (documented in the ads docs).
POST_DEFAULTS = {"created_at": None, "lang": None, "author_followers": None, "urls": [], "mentions": [],
                 "reply_to_id": None}


def _is_emoji(ch: str) -> bool:
    o = ord(ch)
    return 0x1F300 <= o <= 0x1FAFF or 0x2600 <= o <= 0x27BF


def tabular_tokens(text: str, created_ms: float, lang: str | None, followers: float, urls: list[str],
                   mentions: list[str], reply: bool) -> list[str]:
    """The author, time and format of one post as tokens: each becomes one binary feature.

    Buckets instead of raw numbers let a linear model fit non-monotone effects (length has an optimum, a few
    hashtags help and many hurt); hour x language crossing stands in for the unknown local time zone."""
    toks = [f"lang={lang or 'und'}", "reply" if reply else "original"]
    toks.append("fol=unknown" if math.isnan(followers) else f"fol={int(math.log2(followers + 1))}")
    if not math.isnan(created_ms):
        t = dt.datetime.fromtimestamp(created_ms / 1000.0, dt.UTC)
        toks += [f"hour={t.hour}", f"dow={t.weekday()}", f"hour_lang={t.hour}_{lang or 'und'}"]
    else:
        toks.append("time=unknown")
    chars = len(text)
    toks.append(f"len={int(2 * math.log2(chars + 1))}")
    links = max(len(urls), text.count("http"))
    toks.append(f"links={min(links, 3)}")
    if any(MEDIA_RE.search(u) for u in urls):
        toks.append("media")
    if any("/status/" in u for u in urls):
        toks.append("quotes_post")
    tags = len(HASHTAG_RE.findall(text)) if "#" in text else 0
    toks.append(f"tags={min(tags, 5)}")
    toks.append(f"mentions={min(max(len(mentions), len(MENTION_RE.findall(text)) if '@' in text else 0), 3)}")
    if "?" in text or "？" in text:
        toks.append("question")
    if not text.isascii():
        toks.append(f"emoji={min(sum(map(_is_emoji, text)), 3)}")
    return toks


def _identity(tokens):
    return tokens


class Featurizer:
    """Hashing vectorizers plus the fitted IDF vectors: posts -> one sparse CSR matrix."""

    def __init__(self, idf_word: np.ndarray | None = None, idf_char: np.ndarray | None = None):
        self.word = HashingVectorizer(ngram_range=(1, 2), n_features=WORD_FEATURES, alternate_sign=False, norm=None,
                                      token_pattern=r"(?u)[#@]?\b\w+\b")
        self.char = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 4), n_features=CHAR_FEATURES,
                                      alternate_sign=False, norm=None)
        self.tab = HashingVectorizer(analyzer=_identity, n_features=TAB_FEATURES, alternate_sign=False, norm=None,
                                     binary=True)
        self.idf_word, self.idf_char = idf_word, idf_char

    @staticmethod
    def _idf(counts: sp.csr_matrix) -> np.ndarray:
        """Smoothed IDF as scikit-learn's TfidfTransformer computes it: ln((1 + n) / (1 + df)) + 1."""
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        return (np.log((1 + counts.shape[0]) / (1 + df)) + 1).astype(np.float32)

    def fit(self, cols: dict) -> Featurizer:
        self.idf_word = self._idf(self.word.transform(cols["text"]))
        self.idf_char = self._idf(self.char.transform(cols["text"]))
        return self

    @staticmethod
    def _tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
        x = counts.multiply(idf[None, :]).tocsr().astype(np.float32)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        return sp.diags(1.0 / np.maximum(norms, 1e-12)).dot(x).tocsr()

    def text_matrix(self, cols: dict) -> sp.csr_matrix:
        if self.idf_word is None:
            raise RuntimeError("Featurizer.fit first")
        return sp.hstack([self._tfidf(self.word.transform(cols["text"]), self.idf_word),
                          self._tfidf(self.char.transform(cols["text"]), self.idf_char)], format="csr")

    def tab_matrix(self, cols: dict) -> sp.csr_matrix:
        rows = [tabular_tokens(*r) for r in zip(cols["text"], cols["created_ms"], cols["lang"],
                                                  cols["author_followers"], cols["urls"], cols["mentions"],
                                                  cols["reply"])]
        return self.tab.transform(rows).astype(np.float32).tocsr()

    def baseline_matrix(self, cols: dict) -> sp.csr_matrix:
        return sp.hstack([self.text_matrix(cols), self.tab_matrix(cols)], format="csr")

    def state(self) -> dict[str, np.ndarray]:
        return {"idf_word": self.idf_word, "idf_char": self.idf_char}

    def describe(self) -> dict[str, Any]:
        return {"text": {"word_ngrams": [1, 2], "char_wb_ngrams": [2, 4], "word_features": WORD_FEATURES,
                         "char_features": CHAR_FEATURES, "weighting": "tf-idf (smoothed), l2 per space"},
                "tabular": {"features": TAB_FEATURES, "tokens": ["lang", "reply/original", "log2 followers bucket",
                                                                 "hour (UTC)", "weekday", "hour x lang",
                                                                 "length bucket", "links", "media", "quotes_post",
                                                                 "hashtags", "mentions", "question", "emoji"]}}


# ---- building columns -------------------------------------------------------------------------------------------

def _float_column(table: pa.Table, name: str) -> np.ndarray:
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    col = table[name]
    if pa.types.is_timestamp(col.type):
        col = col.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
    return col.to_numpy().astype(np.float64) if col.null_count == 0 else \
        col.cast(pa.float64()).to_numpy(zero_copy_only=False)


def columns_from_table(table: pa.Table) -> dict[str, Any]:
    """Corpus rows (POST_SCHEMA) -> columns for the featurizer and the labels."""
    n = table.num_rows

    def lists(name):
        return [x or [] for x in table[name].to_pylist()] if name in table.column_names else [[] for _ in range(n)]

    def strings(name):
        return table[name].to_pylist() if name in table.column_names else [None] * n

    cols = {"id": strings("id"), "text": strings("text"), "created_ms": _float_column(table, "created_at"),
            "lang": strings("lang"), "author_followers": _float_column(table, "author_followers"),
            "urls": lists("urls"), "mentions": lists("mentions"),
            "reply": np.array([r is not None for r in strings("reply_to_id")], dtype=bool),
            "conversation_id": strings("conversation_id"), "repost_of_id": strings("repost_of_id")}
    for name in ("like_count", "repost_count", "reply_count", "quote_count", "view_count"):
        if name in table.column_names:
            cols[name] = _float_column(table, name)
    cols["view_count"] = cols.get("view_count", np.full(n, np.nan))
    return cols


def read_corpus(corpus_dir, split: str = "all") -> dict[str, Any]:
    """The posts of a corpus made by `warble ingest` (split: train, validation or all), as columns plus 'split'."""
    from pathlib import Path

    root = Path(corpus_dir)
    if not root.is_dir():
        raise InputError(f"corpus {corpus_dir} does not exist")
    splits = ("train", "validation") if split == "all" else (split,)
    tables, names = [], []
    for s in splits:
        files = sorted((root / "corpus" / s).glob("*.parquet"))
        if not files:
            continue
        try:
            dataset = ds.dataset([str(f) for f in files], format="parquet")
            present = [c for c in CORPUS_COLUMNS if c in dataset.schema.names]
            t = dataset.to_table(columns=present)
        except (pa.ArrowException, OSError) as e:
            raise InputError(f"{root / 'corpus' / s}: not a readable corpus ({e})") from None
        if "text" not in t.column_names:
            raise InputError(f"{root}: corpus files have no 'text' column")
        tables.append(t)
        names += [s] * t.num_rows
    if not (root / "corpus").is_dir():
        raise InputError(f"{corpus_dir} is not a Warble corpus (no corpus/ inside; `warble ingest` makes one)")
    if not tables or sum(t.num_rows for t in tables) == 0:
        raise InputError(f"{corpus_dir}: no posts in split {split!r}")
    cols = columns_from_table(pa.concat_tables(tables, promote_options="default"))
    cols["split"] = names
    return cols


def _ms(value: Any) -> float:
    t = parse_timestamp(value)  # datetime, ISO 8601, v1.1 format, epoch s or ms; RecordError (a ValueError)
    return math.nan if t is None else t.timestamp() * 1000.0


def columns_from_posts(posts: list[dict]) -> dict[str, Any]:
    """Post dicts (at least "text"; other POST_SCHEMA fields optional, POST_DEFAULTS when missing) -> columns.

    Extra keys: "reply" (bool) may stand in for reply_to_id; created_at may be a datetime, an ISO 8601 string or
    epoch seconds/milliseconds."""
    if not isinstance(posts, (list, tuple)):
        raise InputError("posts must be a list of dicts")
    cols: dict[str, list] = {k: [] for k in ("text", "created_ms", "lang", "author_followers", "urls", "mentions",
                                             "reply")}
    for i, p in enumerate(posts):
        if not isinstance(p, dict) or not isinstance(p.get("text"), str):
            raise InputError(f"post {i}: needs a dict with a string 'text'")
        p = {**POST_DEFAULTS, **p}
        try:
            cols["created_ms"].append(_ms(p["created_at"]))
            followers = p["author_followers"]
            cols["author_followers"].append(math.nan if followers is None else float(followers))
        except (TypeError, ValueError) as e:
            raise InputError(f"post {i}: {e}") from None
        cols["text"].append(p["text"])
        cols["lang"].append(p["lang"])
        cols["urls"].append(list(p["urls"] or []))
        cols["mentions"].append(list(p["mentions"] or []))
        cols["reply"].append(bool(p.get("reply", p["reply_to_id"] is not None)))
    out: dict[str, Any] = dict(cols)
    out["created_ms"] = np.array(cols["created_ms"], dtype=np.float64)
    out["author_followers"] = np.array(cols["author_followers"], dtype=np.float64)
    out["reply"] = np.array(cols["reply"], dtype=bool)
    return out


def take(cols: dict[str, Any], idx: np.ndarray) -> dict[str, Any]:
    """The rows `idx` of every column."""
    out = {}
    for k, v in cols.items():
        out[k] = v[idx] if isinstance(v, np.ndarray) else [v[i] for i in idx]
    return out
