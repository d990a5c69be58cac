"""What every index backend shares: the `Hit` it returns, the posts it accepts (`normalize_posts`), the search
pipeline above the candidate lists (`SearchBackend.search`: validation, fusion, boosts, the final store check,
highlights), and the factories `create_index` / `open_index` that pick a backend.

A backend supplies three things: its lexical candidates (`_lexical_candidates`: (key, BM25) best first, or newest
first for a query without words), its dense candidates (`_dense_candidates`: (key, cosine) among the posts that pass
the query's non-word parts) and the live rows of keys (`_live_rows`, the check every returned hit passes). Everything
else, and so the ranking of the final list, is this module's and the same for every backend.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from warble.errors import ConfigError, InputError
from warble.search import ast
from warble.search.index import analysis, embed, fusion
from warble.search.index.lexical import has_positive_text, prune, query_hashtags, query_words, relax_text
from warble.search.index.store import FIELDS, LIST_FIELDS

MODES = ("hybrid", "lexical", "dense")
BACKENDS = ("embedded", "postgres")
CANDIDATES = 100  # per list, for fusion and boosts
COUNTS = ("like_count", "repost_count", "reply_count", "quote_count")


@dataclass
class Hit:
    id: str
    author_id: str
    author_handle: str | None
    created_at: dt.datetime | None
    text: str
    lang: str | None
    reply_to_id: str | None
    quote_of_id: str | None
    repost_of_id: str | None
    hashtags: list[str]
    mentions: list[str]
    urls: list[str]
    like_count: int | None
    repost_count: int | None
    reply_count: int | None
    quote_count: int | None
    score: float
    lexical_rank: int | None = None  # 1-based rank in the lexical candidates (None: not among them)
    dense_rank: int | None = None
    lexical_score: float | None = None  # BM25
    dense_score: float | None = None  # cosine similarity
    highlights: list[tuple[int, int]] = field(default_factory=list)  # [start, end) character ranges of text

    def to_dict(self) -> dict:
        d = asdict(self)
        d["created_at"] = None if self.created_at is None else \
            self.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        d["highlights"] = [list(h) for h in self.highlights]
        return d


def ms_to_dt(ms: int | None) -> dt.datetime | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)


def _to_ms(v, i: int) -> int | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        v = v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)
        return int(v.timestamp() * 1000)
    if isinstance(v, str):
        try:
            return _to_ms(dt.datetime.fromisoformat(v.replace("Z", "+00:00")), i)
        except ValueError:
            raise InputError(f"post {i}: created_at {v!r} is not an ISO 8601 time") from None
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    raise InputError(f"post {i}: created_at must be a datetime, an ISO string or epoch milliseconds, not {v!r}")


def normalize_posts(posts) -> list[dict]:
    """Posts (a pyarrow Table/RecordBatch with the post schema's columns, or dicts) as dicts of the store's fields."""
    if isinstance(posts, (pa.Table, pa.RecordBatch)):
        n = posts.num_rows
        cols = {}
        for f in FIELDS:
            if f not in posts.schema.names:
                cols[f] = [[] if f in LIST_FIELDS else None] * n
                continue
            col = posts.column(f)
            if f == "created_at" and pa.types.is_timestamp(col.type):
                col = col.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
            cols[f] = col.to_pylist()
        rows = [dict(zip(FIELDS, vals)) for vals in zip(*(cols[f] for f in FIELDS))]
    else:
        rows = []
        for i, p in enumerate(posts):
            if not isinstance(p, dict):
                raise InputError(f"post {i}: expected a dict, got {type(p).__name__}")
            rows.append({f: p.get(f) for f in FIELDS})
    for i, r in enumerate(rows):
        for f in ("id", "author_id", "text"):
            if not isinstance(r[f], str) or not r[f]:
                raise InputError(f"post {i}: {f} must be a non-empty string, got {r[f]!r}")
        r["created_at"] = _to_ms(r["created_at"], i)
        for f in LIST_FIELDS:
            v = r[f] or []
            if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
                raise InputError(f"post {i}: {f} must be a list of strings")
            r[f] = list(v)
        for f in COUNTS:
            if r[f] is not None and (isinstance(r[f], bool) or not isinstance(r[f], (int, np.integer))):
                raise InputError(f"post {i}: {f} must be an integer or null, got {r[f]!r}")
    return rows


def unique_posts(rows: list[dict]) -> list[dict]:
    """The first post of each id, in order."""
    seen: set[str] = set()
    out = []
    for r in rows:
        if r["id"] not in seen:
            seen.add(r["id"])
            out.append(r)
    return out


class SearchBackend:
    """The search pipeline above the candidate lists, shared by every backend (see the module docstring).
    Subclasses set `_lock` (an RLock), `location` (for messages) and `has_dense`, and implement the hooks."""

    backend: str  # "embedded" or "postgres" (one of BACKENDS)
    location: str
    has_dense: bool
    # the query embedder (set by _init_from_meta): given to open(), or loaded on first need from the recorded spec,
    # then checked to reproduce the index's probe vectors (a different model would silently return wrong neighbours)
    spec: dict

    def _init_from_meta(self, meta: dict, fmt: str, *, embedder, model, device: str) -> None:
        """What every backend reads from its recorded metadata: the format and text analyzer it was built with
        (both must be this version's) and the embedder spec and probe vectors that queries are checked against."""
        if meta.get("format") != fmt:
            raise InputError(f"{self.location}: not a Warble search index (format {meta.get('format')!r})")
        if meta.get("analyzer") != analysis.ANALYZER_VERSION:
            raise ConfigError(f"{self.location}: built with text analyzer {meta.get('analyzer')!r}, this version "
                              f"uses {analysis.ANALYZER_VERSION!r}; rebuild the index")
        self.spec, self._probes = meta["embedder"], meta.get("probes")
        self._embedder, self._model, self._device = embedder, model, device
        self._own_embedder = self._embedder_checked = False

    def _check_embedder(self, e: embed.Embedder) -> None:
        if self.spec["kind"] == "none":
            raise ConfigError(f"{self.location} was built without embeddings (--embedder none); it has no dense "
                              "vectors")
        embed.check_same(e, self.spec, self._probes)
        self._embedder_checked = True

    @property
    def embedder(self) -> embed.Embedder | None:
        if self.spec["kind"] == "none":
            return None
        if self._embedder is None:
            # a read-only handle embeds one query at a time: one thread does it as fast as several, and a second
            # one would spin on the core that the rest of the search runs on (docs/LOG.md, 1M-post latency)
            self._embedder = embed.load_embedder(self.spec["kind"], model=self._model, spec=self.spec,
                                                 device=self._device, threads=1 if self.readonly else None)
            self._own_embedder = True
        if not self._embedder_checked:
            self._check_embedder(self._embedder)
        return self._embedder

    # ------------------------------------------------------------------------------------------------ hooks
    def refresh(self) -> None:
        """Catch up with other writers before a search (no-op where the backend always sees the latest state)."""

    def _lexical_candidates(self, node: ast.Node | None, n: int) -> list[tuple[int, float]]:
        raise NotImplementedError

    def _dense_candidates(self, text: str, filt: ast.Node | None, n: int) -> list[tuple[int, float]]:
        raise NotImplementedError

    def _live_rows(self, keys: list[int]) -> dict[int, dict]:
        raise NotImplementedError

    def _candidates(self, node: ast.Node | None, n: int, use_lex: bool, use_dense: bool
                    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """Both candidate lists (a backend may fetch them together, e.g. to check them against its store at once)."""
        lex = self._lexical_candidates(node, n) if use_lex else []
        dense = self._dense_candidates(" ".join(ast.text_terms(node)), relax_text(node), n) if use_dense else []
        return lex, dense

    def _newest_ms(self) -> int | None:
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------------ adding
    def _existing_ids(self, ids: list[str]) -> set[str]:
        raise NotImplementedError

    def _opted_out_among(self, authors: list[str]) -> set[str]:
        raise NotImplementedError

    def _blocked_among(self, ids: list[str]) -> set[str]:
        """Of `ids`, those on the deletion list or of dead (deleted, opted-out) posts."""
        raise NotImplementedError

    def _screen(self, rows: list[dict]) -> list[dict]:
        """The posts of `rows` (normalised) to add: one per id, not indexed yet, not by an opted-out author, not
        deleted, and not a repost of a deleted or dead post (a repost carries the original's text). Sets
        `last_add`. The same rule on every backend; each only looks the lists up."""
        unique = unique_posts(rows)
        existing = self._existing_ids([r["id"] for r in unique])
        new = [r for r in unique if r["id"] not in existing]
        opted = self._opted_out_among(sorted({r["author_id"] for r in new}))
        blocked = self._blocked_among(sorted({r["id"] for r in new} | {r["repost_of_id"] for r in new
                                                                      if r["repost_of_id"]}))
        accepted = [r for r in new if r["author_id"] not in opted and r["id"] not in blocked
                    and r["repost_of_id"] not in blocked]
        self.last_add = {"given": len(rows), "added": len(accepted), "duplicates": len(rows) - len(new),
                         "refused_compliance": len(new) - len(accepted)}
        return accepted

    # ------------------------------------------------------------------------------------------------ side data
    def iter_posts(self, above: int = 0, batch: int = 20_000):
        """Batches of (key, post) of the live posts with key > `above`, in key order (what the suggestion lexicon
        of `warble.search.understand` counts)."""
        raise NotImplementedError

    def max_key(self) -> int:
        """A key at least as high as every live post's (0 for an empty index). It grows with every add; it may
        fall when the newest post is deleted (PostgreSQL: the highest live key; embedded: the highest key ever
        given, which never falls). Keys are never reused."""
        raise NotImplementedError

    def live_posts(self) -> int:
        """How many live posts the index holds, from a counter kept with every add and delete (cheap: what the
        lexicon and the suggest route check freshness with, where `stats()` counts tables and sizes files)."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------------ search
    def search(self, query: ast.Node | str | None, mode: str = "hybrid", limit: int = 10, *, fusion_method: str = "rrf",
               rrf_k: int = fusion.RRF_K, alpha: float = 0.5, candidates: int = CANDIDATES,
               recency_weight: float = 0.0, half_life_days: float = 7.0, engagement_weight: float = 0.0,
               now: dt.datetime | None = None) -> list[Hit]:
        """The top `limit` live posts for a query (an AST, or a string for `warble.search.query.parse`).

        lexical: BM25 over the whole query. dense: nearest posts to the embedding of the query's words, among posts
        that pass the query's other parts (`relax_text`). hybrid: fusion of both candidate lists (`fusion_method`
        "rrf" with `rrf_k`, or "weighted" with `alpha` for lexical), then the optional boosts. A query without words
        is a pure filter in every mode: its results come newest first. On an index without embeddings, hybrid is
        lexical."""
        if mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if fusion_method not in fusion.FUSIONS:
            raise InputError(f"fusion must be one of {', '.join(fusion.FUSIONS)}, got {fusion_method!r}")
        if limit < 1 or candidates < 1 or rrf_k < 0 or not 0 <= alpha <= 1 or half_life_days <= 0:
            raise InputError("need limit >= 1, candidates >= 1, rrf_k >= 0, 0 <= alpha <= 1, half_life_days > 0")
        if isinstance(query, str):
            from warble.search.query import parse

            query = parse(query)
        node = prune(query) if query is not None else None
        scored = has_positive_text(node)
        if mode == "dense" and not self.has_dense:
            raise InputError(f"{self.location} has no dense vectors (built with --embedder none): use lexical mode")
        self.refresh()
        with self._lock:
            boosted = bool(recency_weight or engagement_weight)
            use_dense = scored and self.has_dense and mode in ("dense", "hybrid")
            use_lex = mode in ("lexical", "hybrid") or not scored
            depth = max(limit, candidates) if (boosted or (use_lex and use_dense)) else limit
            lex, dense = self._candidates(node, depth, use_lex, use_dense)
            if use_lex and use_dense:
                fused = fusion.fuse(lex, dense, method=fusion_method, k=rrf_k, alpha=alpha)
            elif use_lex:
                fused = [fusion.Fused(k, s, r, None, s, None) for r, (k, s) in enumerate(lex, 1)]
            else:
                fused = [fusion.Fused(k, s, None, r, None, s) for r, (k, s) in enumerate(dense, 1)]
            if boosted:
                rows = self._live_rows([f.key for f in fused])
                fused = [f for f in fused if f.key in rows]
                now_ms = int(now.timestamp() * 1000) if now is not None else self._newest_ms()
                for f in fused:
                    f.score = fusion.boost(f.score, rows[f.key], now_ms=now_ms, recency_weight=recency_weight,
                                           half_life_days=half_life_days, engagement_weight=engagement_weight)
                fused.sort(key=fusion._order)
            fused = fused[:limit]
            rows = self._live_rows([f.key for f in fused])  # checked again: nothing dead is returned
            words = set(query_words(node))
            tags = {t for tag in query_hashtags(node) for t in analysis.analyze(tag)}
            return [self._hit(rows[f.key], f, words, tags) for f in fused if f.key in rows]

    def _hit(self, row: dict, f: fusion.Fused, words: set[str], tags: set[str]) -> Hit:
        return Hit(**{**row, "created_at": ms_to_dt(row["created_at"])}, score=f.score, lexical_rank=f.lexical_rank,
                   dense_rank=f.dense_rank, lexical_score=f.lexical_score, dense_score=f.dense_score,
                   highlights=analysis.highlight_spans(row["text"], words, tags))

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------------- factories
def _check_backend(backend: str, location, dsn: str | None) -> None:
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "postgres" and not dsn:
        raise InputError("the postgres backend needs --dsn postgresql://USER@HOST:PORT/DB")
    if backend == "embedded" and location is None:
        raise InputError("the embedded backend needs an index directory")


def create_index(location: str | Path | None, embedder="none", *, backend: str = "embedded", dsn: str | None = None,
                 model: str | Path | None = None, device: str = "auto"):
    """A new, empty index: a directory (embedded) or a schema named `location` (default "warble") in the
    PostgreSQL database at `dsn` (postgres)."""
    _check_backend(backend, location, dsn)
    if backend == "postgres":
        from warble.search.index.postgres import PostgresIndex

        return PostgresIndex.create(dsn, embedder, schema=str(location or "warble"), model=model, device=device)
    from warble.search.index.index import SearchIndex

    return SearchIndex.create(location, embedder, model=model, device=device)


def open_index(location: str | Path | None, *, backend: str = "embedded", dsn: str | None = None,
               readonly: bool = False, embedder=None, model: str | Path | None = None, device: str = "auto"):
    """Open an index of either backend (what `warble search`, `warble index` and `warble serve` call): `location`
    is the index directory (embedded) or the schema name (postgres, default "warble"; `dsn` names the server).
    `embedder`: an already loaded query embedder (checked against the index's recorded probe vectors)."""
    _check_backend(backend, location, dsn)
    if backend == "postgres":
        from warble.search.index.postgres import PostgresIndex

        return PostgresIndex.open(dsn, schema=str(location or "warble"), readonly=readonly, embedder=embedder,
                                  model=model, device=device)
    from warble.search.index.index import SearchIndex

    return SearchIndex.open(location, readonly=readonly, embedder=embedder, model=model, device=device)
