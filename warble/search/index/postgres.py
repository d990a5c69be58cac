"""The PostgreSQL backend: the same contract as the embedded one (`warble.search.index`), in tables of one schema
of the user's own server (PostgreSQL 13+ with pgvector 0.8+), through psycopg 3.

    idx = PostgresIndex.create("postgresql://user@host/db", "warble", model=RUN, schema="warble")
    idx = PostgresIndex.open("postgresql://user@host/db", schema="warble", readonly=True)

Tables (schema `warble` by default):
    posts      every live post's fields, plus what search needs: `tsv` (the post analyser's tokens with positions,
               GIN: words and phrases), `toks` (the same tokens in order: term and phrase frequencies), `dl` (the
               token count, quantised as tantivy quantises field lengths), `tags`/`ments`/`authors` (normalised
               arrays, GIN), `lang_n`, `kinds` (reply/quote/repost/links bits), `created_at` and the counts
               (btree), `vec` (halfvec, pgvector HNSW, inner product)
    terms      document frequency of every token (BM25's idf); `stats` one row: posts, tokens, newest time
    deleted_ids, opted_out, dead_ids   the compliance lists, and every removed post id (its reposts are refused)
    meta       format, analyser, embedder spec and probe vectors
    query_log, lexicon_terms, lexicon_meta   side data of `warble.search.understand` (past queries, the suggestion
               lexicon), created with the index (or by the first writable open of an older one), so searching
               handles, read-only roles included, never run DDL

Same results as the embedded backend on the same data (tests/test_search_contract.py runs one suite on both):
- Matching: the query AST compiles to one SQL predicate with the same meaning as the tantivy query: words and
  phrases are tsquery lexemes (`'a' <-> 'b'`) built from the same analyser (warble.search.index.analysis), never
  Postgres's own parser, so tokenisation, case and accent folding, CJK and emoji are identical; filters are
  predicates on the columns. The set of matching posts is equal for every query.
- Lexical scores: `ts_rank` is not BM25, so BM25 is computed in SQL exactly as tantivy computes it: idf =
  ln(1 + (N - df + 0.5) / (df + 0.5)) from the `terms` table (a phrase: the sum of its words' idf), tf = the term's
  (or the phrase's) occurrences in `toks`, the document length quantised by tantivy's fieldnorm table, avgdl = tokens
  / posts, k1 1.2, b 0.75; a node's score is the sum of its matching positive words and phrases, as tantivy's
  boolean query sums. Equal to ~1e-6 (float32 in tantivy, float8 here) while no post has been deleted since the
  last compaction. After deletions they differ slightly: this backend's statistics drop a deleted post at once,
  tantivy keeps counting it until its segments merge or the index is compacted.
- Dense: pgvector HNSW (m 16, ef_construction 80, ef_search 64, iterative scans for filtered queries) over the same
  float16 vectors; the filters are the same predicate. Both HNSW walks are approximate, so dense lists can differ
  where vectors nearly tie; the contract suite checks both against exact search.
- Fusion, boosts, the final live check and highlights are `SearchBackend.search`, the same code for both.

Deletes and opt-outs delete the rows in one transaction (gone from every query at once, MVCC); `compact()` runs
VACUUM FULL, which rewrites the table and its indexes so the deleted rows leave the disk. Crash safety is
PostgreSQL's: an add or a delete is one transaction, acknowledged when it commits. One writer at a time (a session
advisory lock on the schema); any number of readers.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from bisect import bisect_right
from collections import Counter, OrderedDict
from contextlib import contextmanager
from typing import Iterable, Sequence

import numpy as np

from warble.errors import ConfigError, InputError
from warble.search import ast
from warble.search.index import analysis, embed
from warble.search.index.backend import SearchBackend, normalize_posts
from warble.search.index.dense import EF_CONSTRUCTION, EF_SEARCH, FLAGS, M
from warble.search.index.lexical import day_ms, kinds, prune
from warble.search.index.store import FIELDS

FORMAT = "warble.search-index/postgres-v1"
K1, B = 1.2, 0.75  # tantivy's BM25 constants
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_KIND_FLAG = {"reply": FLAGS["reply"], "quote": FLAGS["quote"], "repost": FLAGS["repost"], "links": FLAGS["links"]}
_FILTER_KIND = {"links": "links", "replies": "reply", "quote": "quote", "retweets": "repost"}
_COPY_COLS = (*FIELDS, "tsv", "toks", "dl", "tags", "ments", "authors", "lang_n", "kinds")


def _fieldnorm_table() -> list[int]:
    """tantivy's FIELD_NORMS_TABLE (src/fieldnorm/code.rs): lengths 0..40 exactly, then buckets of 8 whose step
    doubles (the Lucene scheme); a length is stored as the largest entry not above it."""
    t, step = list(range(41)), 2
    while len(t) < 256:
        t += [t[-1] + step * (i + 1) for i in range(8)][:256 - len(t)]
        step *= 2
    return t


FIELD_NORMS = _fieldnorm_table()


def quantised_length(n: int) -> int:
    return FIELD_NORMS[bisect_right(FIELD_NORMS, n) - 1]


def _quote_lexeme(tok: str) -> str:
    return "'" + tok.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(tokens: list[str]) -> str:
    """The tokens with their 1-based positions, as a tsvector literal (Postgres caps positions at 16383)."""
    pos: dict[str, list[int]] = {}
    for i, t in enumerate(tokens, 1):
        pos.setdefault(t, []).append(min(i, 16383))
    return " ".join(f"{_quote_lexeme(t)}:{','.join(map(str, sorted(set(p))))}" for t, p in pos.items())


def tsquery_literal(tokens: list[str]) -> str:
    """One token, or a phrase of several (`<->`: adjacent, in order)."""
    return " <-> ".join(_quote_lexeme(t) for t in tokens)


def _flags(post: dict) -> int:
    return sum(_KIND_FLAG[k] for k in kinds(post))


# ---------------------------------------------------------------------------------------------------- SQL compiler
class SqlQuery:
    """A query AST as SQL over `posts p`: `where` (the match predicate) and `score` (BM25; the idf of each positive
    text leaf is a column `idfN` of a CTE `c`, with `c.avgdl`). Each part comes with its parameters, in order."""

    def __init__(self, node: ast.Node | None, scored: bool = True):
        self.idf_sql: list[str] = []  # one idf expression per positive text leaf, computed once per query
        self.idf_params: list = []
        self.where, self.where_params = self._match(node) if node is not None else ("TRUE", [])
        self.score, self.score_params = self._score(node) if (node is not None and scored) else ("0", [])

    # match predicates (NULL-safe: every leaf is true or false, so NOT means what the AST says)
    def _match(self, node: ast.Node) -> tuple[str, list]:
        if isinstance(node, (ast.Term, ast.Phrase)):
            return "p.tsv @@ %s::tsquery", [tsquery_literal(analysis.analyze(node.text))]
        if isinstance(node, (ast.And, ast.Or)):
            parts = [self._match(c) for c in node.children]
            op = " AND " if isinstance(node, ast.And) else " OR "
            return "(" + op.join(sql for sql, _ in parts) + ")", [v for _, ps in parts for v in ps]
        if isinstance(node, ast.Not):
            sql, ps = self._match(node.child)
            return f"NOT {sql}", ps
        if isinstance(node, ast.Hashtag):
            return "p.tags @> ARRAY[%s]::text[]", [analysis.norm_name(node.tag)]
        if isinstance(node, ast.Mention):
            return "p.ments @> ARRAY[%s]::text[]", [analysis.norm_name(node.user)]
        if isinstance(node, ast.From):
            return "p.authors @> ARRAY[%s]::text[]", [analysis.norm_name(node.user)]
        if isinstance(node, ast.To):
            return (f"((p.kinds & {FLAGS['reply']}) <> 0 AND p.ments @> ARRAY[%s]::text[])",
                    [analysis.norm_name(node.user)])
        if isinstance(node, ast.Lang):
            return "p.lang_n = %s", [analysis.norm_name(node.code)]
        if isinstance(node, ast.Since):
            return "COALESCE(p.created_at >= %s, false)", [day_ms(node.date)]
        if isinstance(node, ast.Until):
            return "COALESCE(p.created_at < %s, false)", [day_ms(node.date)]
        if isinstance(node, ast.MinCount):
            if node.field not in ("like_count", "repost_count", "reply_count"):
                raise ValueError(f"MinCount field must be a count, got {node.field!r}")
            return f"COALESCE(p.{node.field} >= %s, false)", [int(node.n)]
        if isinstance(node, ast.Filter):
            kind = _FILTER_KIND.get(node.kind)
            if kind is None:
                raise ValueError(f"unknown filter kind {node.kind!r}")
            return f"((p.kinds & {_KIND_FLAG[kind]}) <> 0)", []
        raise TypeError(f"not a query node: {node!r}")

    # BM25: a node's score is the sum over its matching positive text leaves, as tantivy's boolean query sums
    # (Must and Should clauses add up; MustNot and the zero-scored filters add nothing)
    def _bm25(self, node: ast.Term | ast.Phrase) -> tuple[str, list]:
        toks = analysis.analyze(node.text)
        i = len(self.idf_sql)
        df = "COALESCE((SELECT df FROM terms WHERE term = %s), 0)"
        self.idf_sql.append(" + ".join(f"ln(1 + (s.posts - {df} + 0.5) / ({df} + 0.5))" for _ in toks))
        self.idf_params.extend(t for tok in toks for t in (tok, tok))
        if len(toks) == 1:  # occurrences of the word, or of the phrase (every start position, as tantivy counts)
            tf = "(SELECT count(*) FROM unnest(p.toks) t WHERE t = %s)"
        else:
            conds = " AND ".join(f"p.toks[g.i + {j}] = %s" for j in range(len(toks)))
            tf = f"(SELECT count(*) FROM generate_subscripts(p.toks, 1) g(i) WHERE {conds})"
        # idf (k1 + 1) tf / (tf + K) written as idf (k1 + 1) (1 - K / (tf + K)): the same score, with the term
        # frequency (a scan of the row's token array) computed once per row instead of twice
        norm = f"{K1} * (1 - {B} + {B} * p.dl / c.avgdl)"
        return f"(c.idf{i} * {1 + K1} * (1 - {norm} / ({tf} + {norm})))", list(toks)

    def _score(self, node: ast.Node, matched: bool = True) -> tuple[str, list]:
        """`matched`: the row is known to match `node` (the whole query, or a positive child of an And that does),
        so no CASE is needed."""
        if isinstance(node, (ast.Term, ast.Phrase, ast.And)):
            if isinstance(node, ast.And):
                parts = [self._score(c, matched) for c in node.children if _positive_text(c)]
                sql, ps = "(" + " + ".join(s for s, _ in parts) + ")", [v for _, p in parts for v in p]
            else:
                sql, ps = self._bm25(node)
            if matched:
                return sql, ps
            m, mps = self._match(node)
            return f"(CASE WHEN {m} THEN {sql} ELSE 0 END)", [*mps, *ps]
        if isinstance(node, ast.Or):
            parts = [self._score(c, False) for c in node.children if _positive_text(c)]
            return "(" + " + ".join(s for s, _ in parts) + ")", [v for _, p in parts for v in p]
        return "0", []


def _positive_text(node: ast.Node) -> bool:
    if isinstance(node, (ast.Term, ast.Phrase)):
        return True
    if isinstance(node, (ast.And, ast.Or)):
        return any(_positive_text(c) for c in node.children)
    return False


# ---------------------------------------------------------------------------------------------------- the index
class PostgresIndex(SearchBackend):
    backend = "postgres"

    def __init__(self, conn, schema: str, *, readonly: bool, embedder: embed.Embedder | None = None,
                 model=None, device: str = "auto"):
        self.conn = conn
        self.schema = schema
        self.location = f"postgres schema {schema}"
        self.readonly = readonly
        self._lock = threading.RLock()
        self._qcache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.last_add: dict = {}
        self._side_ready = False  # the side tables are known to exist
        meta = self._meta()
        self._init_from_meta(meta, FORMAT, embedder=embedder, model=model, device=device)
        self.has_dense = self.spec["kind"] != "none"
        if not readonly:
            got = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (f"warble.index.{schema}",)).fetchone()[0]
            if not got:
                raise InputError(f"{self.location}: another process (or handle) is writing this index")
            self._ensure_indexes()  # a writer killed inside bulk_load() left them dropped
            self.ensure_side_tables()  # an index made before they existed
        if embedder is not None:
            self._check_embedder(embedder)

    # ------------------------------------------------------------------------------------------------ create, open
    @staticmethod
    def _connect(dsn: str, schema: str):
        try:
            import psycopg
        except ImportError:
            raise ConfigError("the postgres backend needs psycopg (pip install 'psycopg[binary]')") from None
        if not _SCHEMA_NAME.match(schema):
            raise InputError(f"schema name {schema!r}: use lowercase letters, digits and _ (at most 63)")
        try:
            conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as e:
            raise InputError(f"cannot connect to PostgreSQL at {_redact(dsn)}: {str(e).strip().splitlines()[0]}") \
                from None
        conn.execute(f"SET search_path TO {schema}, public")
        if _has_vector(conn):
            conn.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
        return conn

    @classmethod
    def create(cls, dsn: str, embedder: embed.Embedder | str | None = "none", *, schema: str = "warble",
               model=None, device: str = "auto") -> "PostgresIndex":
        """A new, empty index: the tables in a new schema `schema` of the database at `dsn`."""
        conn = cls._connect(dsn, schema)
        try:
            if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
                raise InputError(f"schema {schema} already exists in that database: add to it (--add), or drop it "
                                 f"(DROP SCHEMA {schema} CASCADE)")
            own = False
            if embedder is None or isinstance(embedder, str):
                embedder = embed.load_embedder(embedder or "none", model=model, device=device)
                own = embedder is not None
            spec = embedder.spec() if embedder is not None else {"kind": "none"}
            probes = embed.probe(embedder) if embedder is not None else None
            if embedder is not None and not _has_vector(conn):
                try:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                except Exception as e:
                    raise ConfigError(f"the pgvector extension is not installed on that server and cannot be created "
                                      f"({str(e).strip().splitlines()[0]})") from None
                conn.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
            with conn.transaction():
                for stmt in _schema_sql(schema, embedder.dim if embedder is not None else None):
                    conn.execute(stmt)
                for k, v in {"format": FORMAT, "analyzer": analysis.ANALYZER_VERSION, "embedder": spec,
                             "probes": probes,
                             "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}.items():
                    conn.execute("INSERT INTO meta(k, v) VALUES (%s, %s)", (k, json.dumps(v)))
            idx = cls(conn, schema, readonly=False, embedder=embedder, device=device)
            idx._own_embedder = own
            idx._embedder_checked = True
            return idx
        except BaseException:
            conn.close()
            raise

    @classmethod
    def open(cls, dsn: str, *, schema: str = "warble", readonly: bool = False, embedder=None, model=None,
             device: str = "auto") -> "PostgresIndex":
        conn = cls._connect(dsn, schema)
        try:
            if not conn.execute("SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'meta'",
                                (schema,)).fetchone():
                raise InputError(f"{_redact(dsn)} has no Warble search index in schema {schema}; build one with "
                                 "`warble index --backend postgres`")
            if readonly:
                conn.execute("SET default_transaction_read_only = on")
            return cls(conn, schema, readonly=readonly, embedder=embedder, model=model, device=device)
        except BaseException:
            conn.close()
            raise

    def _meta(self) -> dict:
        return {k: v for k, v in self.conn.execute("SELECT k, v FROM meta")}

    # ------------------------------------------------------------------------------------------------ embedder
    def _query_vector(self, text: str) -> np.ndarray:
        v = self._qcache.get(text)
        if v is None:
            v = self.embedder.embed([text])[0].astype(np.float16).astype(np.float32)  # as the posts' are stored
            self._qcache[text] = v
            if len(self._qcache) > 256:
                self._qcache.popitem(last=False)
        return v

    # ------------------------------------------------------------------------------------------------ writing
    def _writable(self) -> None:
        if self.readonly:
            raise InputError(f"{self.location} is open read-only")

    def _existing_ids(self, ids: list[str]) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT id FROM posts WHERE id = ANY(%s)", (ids,))}

    def _opted_out_among(self, authors: list[str]) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT author_id FROM opted_out WHERE author_id = ANY(%s)",
                                                (authors,))}

    def _blocked_among(self, ids: list[str]) -> set[str]:
        return {r[0] for r in self.conn.execute(
            "SELECT id FROM deleted_ids WHERE id = ANY(%s) UNION SELECT id FROM dead_ids WHERE id = ANY(%s)",
            (ids, ids))}

    def add(self, posts, *, progress: bool = False) -> int:
        """Add posts (as `SearchIndex.add`): one transaction; durable and searchable once it returns."""
        self._writable()
        rows = normalize_posts(posts)
        with self._lock:
            accepted = self._screen(rows)
            if not accepted:
                return 0
            vectors = None
            if self.has_dense:
                vectors = embed.embed_all(self.embedder, [r["text"] for r in accepted], progress=progress)
                vectors = vectors.astype(np.float16)
            toks = [analysis.analyze(r["text"]) for r in accepted]
            df = Counter(t for ts in toks for t in set(ts))
            newest = max((r["created_at"] for r in accepted if r["created_at"] is not None), default=None)
            cols = _COPY_COLS + (("vec",) if vectors is not None else ())
            with self.conn.transaction():
                with self.conn.cursor().copy(f"COPY posts ({', '.join(cols)}) FROM STDIN") as cp:
                    for i, (r, ts) in enumerate(zip(accepted, toks)):
                        row = [r[f] for f in FIELDS] + [
                            tsvector_literal(ts), ts, quantised_length(len(ts)),
                            sorted({analysis.norm_name(t) for t in r["hashtags"]}),
                            sorted({analysis.norm_name(m) for m in r["mentions"]}),
                            sorted({analysis.norm_name(a) for a in (r["author_id"], r["author_handle"]) if a}),
                            analysis.norm_name(r["lang"] or ""), _flags(r)]
                        if vectors is not None:
                            row.append("[" + ",".join(map(repr, vectors[i].astype(np.float32).tolist())) + "]")
                        cp.write_row(row)
                terms = sorted(df)
                self.conn.execute("INSERT INTO terms(term, df) SELECT * FROM unnest(%s::text[], %s::bigint[]) "
                                  "ON CONFLICT (term) DO UPDATE SET df = terms.df + EXCLUDED.df",
                                  (terms, [df[t] for t in terms]))
                self.conn.execute("UPDATE stats SET posts = posts + %s, tokens = tokens + %s, "
                                  "newest_ms = GREATEST(newest_ms, %s)",
                                  (len(accepted), sum(len(ts) for ts in toks), newest))
            return len(accepted)

    def _remove(self, ids: list[str], authors: list[str]) -> int:
        """Delete the posts with these ids or authors, and reposts of them, and update the statistics (inside the
        caller's transaction). Returns how many posts went."""
        gone = self.conn.execute("DELETE FROM posts WHERE id = ANY(%s) OR author_id = ANY(%s) RETURNING id, toks",
                                 (ids, authors)).fetchall()
        gone += self.conn.execute("DELETE FROM posts WHERE repost_of_id = ANY(%s) RETURNING id, toks",
                                  ([g[0] for g in gone] + ids,)).fetchall()
        if not gone:
            return 0
        df = Counter(t for _, ts in gone for t in set(ts))
        terms = sorted(df)
        self.conn.execute("UPDATE terms SET df = terms.df - d.n FROM unnest(%s::text[], %s::bigint[]) d(term, n) "
                          "WHERE terms.term = d.term", (terms, [df[t] for t in terms]))
        self.conn.execute("INSERT INTO dead_ids(id) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
                          ([g[0] for g in gone],))
        self.conn.execute("UPDATE stats SET posts = posts - %s, tokens = tokens - %s, removed = removed + %s",
                          (len(gone), sum(len(ts) for _, ts in gone), len(gone)))
        return len(gone)

    def delete(self, ids: Iterable[str]) -> int:
        """Delete posts by id (and reposts of them): gone from results when this returns; never re-added."""
        self._writable()
        ids = sorted({str(i) for i in ids})
        with self._lock, self.conn.transaction():
            self.conn.execute("INSERT INTO deleted_ids(id) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (ids,))
            return self._remove(ids, [])

    def apply_compliance(self, opt_out_authors: Iterable[str] = (), deleted_posts: Iterable[str] = ()) -> dict:
        self._writable()
        authors, ids = sorted({str(a) for a in opt_out_authors}), sorted({str(i) for i in deleted_posts})
        with self._lock, self.conn.transaction():
            self.conn.execute("INSERT INTO opted_out(author_id) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
                              (authors,))
            self.conn.execute("INSERT INTO deleted_ids(id) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (ids,))
            removed = self._remove(ids, authors)
        return {"opted_out_authors": len(authors), "deleted_posts": len(ids), "removed": removed}

    def compact(self) -> dict:
        """Deleted rows leave the disk: VACUUM FULL rewrites the posts table and all its indexes (an exclusive lock
        on the table while it runs), then ANALYZE refreshes the planner's statistics."""
        self._writable()
        with self._lock:
            t0 = time.perf_counter()
            removed = self.conn.execute("SELECT removed FROM stats").fetchone()[0]
            if not removed:
                return {"removed": 0, "seconds": 0.0}
            with self.conn.transaction():
                self.conn.execute("DELETE FROM terms WHERE df <= 0")
                self.conn.execute("UPDATE stats SET removed = 0")
            self.conn.execute("VACUUM (FULL, ANALYZE) posts")
            self.conn.execute("VACUUM (ANALYZE) terms")
            return {"removed": removed, "seconds": round(time.perf_counter() - t0, 3)}

    @contextmanager
    def bulk_load(self, maintenance_work_mem: str = "1GB"):
        """For loading many posts into an index at once (`warble index` on a new schema, the benchmark): the text
        and vector indexes are dropped, and built again in one pass when the block ends, which is several times
        faster than maintaining them row by row. Adds inside the block are durable and searchable (by scans) as
        usual; a writer killed inside it leaves the indexes to be rebuilt by the next writable `open`."""
        self._writable()
        dim = self.spec.get("dim") if self.has_dense else None
        heavy = [name for name, _ in _index_sql(dim) if name in ("posts_tsv", "posts_vec")]
        with self._lock:
            for name in heavy:
                self.conn.execute(f"DROP INDEX IF EXISTS {name}")
            try:
                yield self
            finally:
                self.conn.execute(f"SET maintenance_work_mem = '{maintenance_work_mem}'")
                self._ensure_indexes()
                self.conn.execute("ANALYZE posts")

    def _ensure_indexes(self) -> None:
        for _, sql in _index_sql(self.spec.get("dim") if self.has_dense else None):
            self.conn.execute(sql)

    def save_dense(self) -> None:
        """Nothing to save: pgvector's HNSW index is updated inside every add's transaction."""

    # ------------------------------------------------------------------------------------------------ search hooks
    def _lexical_candidates(self, node: ast.Node | None, n: int) -> list[tuple[int, float]]:
        node = prune(node) if node is not None else None
        q = SqlQuery(node, scored=_positive_text(node) if node is not None else False)
        if q.score == "0":
            sql = (f"SELECT p.key, 0.0 FROM posts p WHERE {q.where} "
                   "ORDER BY p.created_at DESC NULLS LAST, p.key LIMIT %s")
            return [(k, float(s)) for k, s in self.conn.execute(sql, (*q.where_params, n))]
        idf = ", ".join(f"({e}) AS idf{i}" for i, e in enumerate(q.idf_sql))
        sql = (f"WITH c AS (SELECT {idf}, s.tokens::float8 / GREATEST(s.posts, 1) AS avgdl FROM stats s) "
               f"SELECT p.key, {q.score} AS score FROM posts p, c WHERE {q.where} "
               "ORDER BY score DESC, p.key LIMIT %s")
        with self._lock:
            rows = self.conn.execute(sql, (*q.idf_params, *q.score_params, *q.where_params, n)).fetchall()
        return [(k, float(s)) for k, s in rows]

    def _dense_candidates(self, text: str, filt: ast.Node | None, n: int) -> list[tuple[int, float]]:
        q = SqlQuery(prune(filt) if filt is not None else None, scored=False)
        vec = "[" + ",".join(map(repr, self._query_vector(text).tolist())) + "]"
        # iterative scans: a filtered HNSW walk keeps going until it has n rows that pass the filter; the walk's
        # order is relaxed, so the rows are sorted again
        sql = (f"WITH d AS MATERIALIZED (SELECT p.key, p.vec <#> %s::halfvec AS dist FROM posts p "
               f"WHERE p.vec IS NOT NULL AND {q.where} ORDER BY p.vec <#> %s::halfvec LIMIT %s) "
               "SELECT key, -dist FROM d ORDER BY dist, key")
        with self._lock, self.conn.transaction():
            self.conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            rows = self.conn.execute(sql, (vec, *q.where_params, vec, n)).fetchall()
        return [(k, float(s)) for k, s in rows]

    def _live_rows(self, keys: list[int]) -> dict[int, dict]:
        if not keys:
            return {}
        with self._lock:
            cur = self.conn.execute(
                f"SELECT p.key, {', '.join('p.' + f for f in FIELDS)} FROM posts p WHERE p.key = ANY(%s) "
                "AND NOT EXISTS (SELECT 1 FROM opted_out o WHERE o.author_id = p.author_id) "
                "AND NOT EXISTS (SELECT 1 FROM deleted_ids d WHERE d.id = p.id OR d.id = p.repost_of_id)",
                ([int(k) for k in keys],))
            return {r[0]: dict(zip(FIELDS, r[1:])) for r in cur}

    def _newest_ms(self) -> int | None:
        return self.conn.execute("SELECT newest_ms FROM stats").fetchone()[0]

    # ------------------------------------------------------------------------------------------------ the rest
    def iter_posts(self, above: int = 0, batch: int = 20_000):
        last = above
        while True:
            with self._lock:
                rows = self.conn.execute(f"SELECT key, {', '.join(FIELDS)} FROM posts WHERE key > %s ORDER BY key "
                                         "LIMIT %s", (last, batch)).fetchall()
            if not rows:
                return
            yield [(r[0], dict(zip(FIELDS, r[1:]))) for r in rows]
            last = rows[-1][0]

    def max_key(self) -> int:
        """The highest live key (0 when empty): it falls when the newest post is deleted (keys are never reused)."""
        with self._lock:
            return self.conn.execute("SELECT COALESCE(max(key), 0) FROM posts").fetchone()[0]

    def live_posts(self) -> int:
        with self._lock:
            return self.conn.execute("SELECT posts FROM stats").fetchone()[0]

    @contextmanager
    def side_transaction(self):
        """A read-write transaction on this handle's connection, read-only handles included, for the index's side
        tables that searching writes (`warble.search.understand`: the query log, the suggestion lexicon). Holds
        the handle's lock, so keep it short. On a hot standby it fails (psycopg.Error): the callers treat those
        tables as optional."""
        with self._lock, self.conn.transaction():
            self.conn.execute("SET TRANSACTION READ WRITE")
            yield self.conn

    def ensure_side_tables(self) -> None:
        """Create the side tables if this schema lacks them (made before they existed); no DDL when they exist,
        so a role without CREATE on the schema can search, log and suggest. Raises psycopg.Error when they are
        missing and cannot be created."""
        if self._side_ready:
            return
        missing = self.side_query("SELECT t FROM unnest(%s::text[]) t WHERE to_regclass(%s::text || '.' || t) IS NULL",
                                  (list(SIDE_TABLES), self.schema))
        if missing:
            with self.side_transaction() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('warble.side.' || current_schema()))")
                for stmt in _side_sql():
                    conn.execute(stmt)
        self._side_ready = True

    def side_query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        """The rows of a read of those side tables, on this handle's connection."""
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def get(self, ids: Sequence[str]) -> dict[str, dict]:
        with self._lock:
            cur = self.conn.execute(f"SELECT {', '.join(FIELDS)} FROM posts WHERE id = ANY(%s)", (list(ids),))
            return {r[0]: dict(zip(FIELDS, r)) for r in cur}

    def stats(self) -> dict:
        with self._lock:
            posts, tokens, removed = self.conn.execute("SELECT posts, tokens, removed FROM stats").fetchone()
            sizes = {name: self.conn.execute("SELECT pg_total_relation_size(%s)", (f"{self.schema}.{name}",))
                     .fetchone()[0] for name in ("posts", "terms")}
            count = lambda t: self.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: E731
            return {"backend": "postgres", "schema": self.schema, "format": FORMAT, "embedder": self.spec,
                    "analyzer": analysis.ANALYZER_VERSION, "posts": posts, "tokens": tokens,
                    "dead_not_compacted": removed, "terms": count("terms"),
                    "opted_out_authors": count("opted_out"), "deleted_ids": count("deleted_ids"),
                    "server": self.conn.execute("SHOW server_version").fetchone()[0],
                    "size_bytes": {**sizes, "total": sum(sizes.values())}}

    def close(self) -> None:
        with self._lock:
            if self.conn is None:
                return
            if self._own_embedder and self._embedder is not None:
                self._embedder.close()
            self.conn.close()  # ends the session: its advisory (writer) lock goes with it
            self.conn = None


def _has_vector(conn) -> bool:
    return conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is not None


def _redact(dsn: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", re.sub(r"password=\S+", "password=***", dsn))


def _schema_sql(s: str, dim: int | None) -> list[str]:
    vec = f", vec halfvec({dim})" if dim else ""
    out = [
        f"CREATE SCHEMA {s}",
        f"SET LOCAL search_path TO {s}, public",
        "CREATE TABLE meta (k text PRIMARY KEY, v jsonb)",
        "CREATE TABLE stats (posts bigint NOT NULL, tokens bigint NOT NULL, newest_ms bigint, removed bigint NOT NULL)",
        "INSERT INTO stats VALUES (0, 0, NULL, 0)",
        f"""CREATE TABLE posts (
            key bigserial PRIMARY KEY, id text NOT NULL UNIQUE, author_id text NOT NULL, author_handle text,
            created_at bigint, text text NOT NULL, lang text, reply_to_id text, quote_of_id text, repost_of_id text,
            hashtags text[] NOT NULL, mentions text[] NOT NULL, urls text[] NOT NULL, like_count bigint,
            repost_count bigint, reply_count bigint, quote_count bigint,
            tsv tsvector NOT NULL, toks text[] NOT NULL, dl real NOT NULL, tags text[] NOT NULL,
            ments text[] NOT NULL, authors text[] NOT NULL, lang_n text NOT NULL, kinds smallint NOT NULL{vec})""",
        "CREATE TABLE terms (term text PRIMARY KEY, df bigint NOT NULL)",
        "CREATE TABLE opted_out (author_id text PRIMARY KEY)",
        "CREATE TABLE deleted_ids (id text PRIMARY KEY)",
        "CREATE TABLE dead_ids (id text PRIMARY KEY)",
    ]
    return out + _side_sql() + [sql for _, sql in _index_sql(dim)]


SIDE_TABLES = ("query_log", "lexicon_meta", "lexicon_terms")


def _side_sql() -> list[str]:
    """The side tables of `warble.search.understand` (the query log, the suggestion lexicon)."""
    return [('CREATE TABLE IF NOT EXISTS query_log (ts double precision, query text, norm text COLLATE "C", '
             "hits integer)"),
            "CREATE INDEX IF NOT EXISTS query_log_norm ON query_log (norm)",
            "CREATE TABLE IF NOT EXISTS lexicon_meta (k text PRIMARY KEY, v bigint)",
            ('CREATE TABLE IF NOT EXISTS lexicon_terms (kind text, text text COLLATE "C", df integer, '
             "PRIMARY KEY (kind, text))")]


def _index_sql(dim: int | None) -> list[tuple[str, str]]:
    """(name, CREATE INDEX IF NOT EXISTS ...) of the posts table's search indexes."""
    out = [("posts_tsv", "gin (tsv)"), ("posts_tags", "gin (tags)"), ("posts_ments", "gin (ments)"),
           ("posts_authors", "gin (authors)"), ("posts_author_id", "(author_id)"), ("posts_lang", "(lang_n)"),
           ("posts_created", "(created_at)"), ("posts_likes", "(like_count)"),
           ("posts_repost_of", "(repost_of_id) WHERE repost_of_id IS NOT NULL")]
    if dim:
        out.append(("posts_vec", f"hnsw (vec halfvec_ip_ops) WITH (m = {M}, ef_construction = {EF_CONSTRUCTION})"))
    return [(name, f"CREATE INDEX IF NOT EXISTS {name} ON posts USING {how}" if how.startswith(("gin", "hnsw"))
             else f"CREATE INDEX IF NOT EXISTS {name} ON posts {how}") for name, how in out]
