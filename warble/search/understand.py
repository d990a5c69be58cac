"""Query understanding: "did you mean" spelling suggestions, autocomplete, query expansion, and the query log.

    lex = Lexicon.open(index)                  # the index's words, bigrams, hashtags, mentions with post counts
    suggest(lex, "lanch delayed")              # {"suggestions": [{"text": "launch delayed", "corrections": [...]}]}
    complete(lex, "new lau", log=open_query_log(index))       # [{"text": "new launch", "source": "phrases"}, ...]
    expand(index, lex, "launch")               # {"terms": [...]} from pseudo-relevance feedback

Everything is drawn from the index's live posts (and, for autocomplete, from past queries), read through the
index's analyzer so that suggestions are words the index matches. The lexicon and the query log are side data of
the index, for either backend (SQLite files beside an embedded index, tables in a PostgreSQL index's schema, made
with the index, so searching needs no right to create tables); the lexicon is brought up to date on open: new posts
are counted incrementally; any deletion or opt-out since it was built makes it rebuild from the live posts, so a
deleted post's words never come back as suggestions. Posts are counted without holding the index handle's lock;
only the short write of the result takes it. A query log that cannot be written or read is warned about once and
the search (or the completion, from posts only) goes on.
Suggestions and completions only offer words and phrases found in at least `MIN_POSTS` posts.
"""

from __future__ import annotations

import itertools
import math
import re
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

from warble.errors import InputError

LEXICON_FILE = "lexicon.sqlite"
QUERY_LOG_FILE = "queries.sqlite"
LEXICON_VERSION = 1
MIN_POSTS = 2  # a word or phrase is offered only if this many live posts hold it
MAX_WORD_CHARS = 40
MAX_EDIT = 2
PLAIN_WORD = re.compile(r"[\w']+")  # a query token that is a word (not an operator, #tag, @user, phrase, group)


# ---------------------------------------------------------------------------------------------------- storage
# The lexicon and the query log are side data of an index: SQLite files in an embedded index's directory, tables
# in a PostgreSQL index's schema (made with the index; written in their own short read-write transactions, so a
# read-only search handle can log its queries and keep the lexicon current). Same rows, same queries, in each
# database's dialect.
_SQLITE_DDL = ("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER)",
               "CREATE TABLE IF NOT EXISTS terms (kind TEXT, text TEXT, df INTEGER, PRIMARY KEY (kind, text)) "
               "WITHOUT ROWID")
_warned: set[str] = set()


def _is_postgres(index) -> bool:
    return getattr(index, "backend", None) == "postgres"


def _db_errors() -> tuple[type[BaseException], ...]:
    """What a side database raises when it cannot be read or written."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _warn_once(what: str, message: str) -> None:
    """A side table that cannot be used stays so: say it once per process, not once per query."""
    if what not in _warned:
        _warned.add(what)
        print(f"warning: {message}", file=sys.stderr)


def _prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds of the strings that start with `prefix` (code point order: SQLite's default, PostgreSQL's "C")."""
    return prefix, prefix + "\U0010ffff"


class _SqliteTerms:
    """The lexicon's rows in `lexicon.sqlite` beside an embedded index."""

    def __init__(self, path: Path):
        self.where = str(path)
        self.db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        for stmt in _SQLITE_DDL:
            self.db.execute(stmt)

    def meta(self) -> dict:
        return dict(self.db.execute("SELECT k, v FROM meta").fetchall())

    def write_if(self, seen: dict, counts: Counter, meta: dict, replace: bool) -> bool:
        """Write the counts if the recorded state is still `seen` (else another updater got there first)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if self.meta() != seen:
                return False
            if replace:
                self.db.execute("DELETE FROM terms")
            self.db.executemany("INSERT INTO terms (kind, text, df) VALUES (?, ?, ?) ON CONFLICT (kind, text) "
                                "DO UPDATE SET df = df + excluded.df", ((k, t, c) for (k, t), c in counts.items()))
            self.db.executemany("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", list(meta.items()))
            return True

    def df(self, kind: str, text: str) -> int:
        r = self.db.execute("SELECT df FROM terms WHERE kind = ? AND text = ?", (kind, text)).fetchone()
        return r[0] if r else 0

    def prefixed(self, kind: str, prefix: str, n: int, min_df: int) -> list[tuple[str, int]]:
        return self.db.execute("SELECT text, df FROM terms WHERE kind = ? AND text >= ? AND text < ? AND df >= ? "
                               "ORDER BY df DESC, text LIMIT ?", (kind, *_prefix_range(prefix), min_df, n)).fetchall()

    def words(self, min_df: int) -> list[tuple[str, int]]:
        return self.db.execute("SELECT text, df FROM terms WHERE kind = 'word' AND df >= ?", (min_df,)).fetchall()

    def close(self) -> None:
        self.db.close()


class _PostgresTerms:
    """The lexicon's rows in the `lexicon_terms` and `lexicon_meta` tables of a PostgreSQL index's schema."""

    def __init__(self, index):
        self.index, self.where = index, f"{index.location} (table lexicon_terms)"
        index.ensure_side_tables()

    def meta(self) -> dict:
        return dict(self.index.side_query("SELECT k, v FROM lexicon_meta"))

    def write_if(self, seen: dict, counts: Counter, meta: dict, replace: bool) -> bool:
        """Write the counts if the recorded state is still `seen`: one short transaction (it holds the handle's
        lock; the counting was done before it, without)."""
        rows = [(k, t, c) for (k, t), c in counts.items()]
        with self.index.side_transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('warble.lexicon.' || current_schema()))")
            if dict(conn.execute("SELECT k, v FROM lexicon_meta").fetchall()) != seen:
                return False
            if replace:
                conn.execute("DELETE FROM lexicon_terms")
                with conn.cursor().copy("COPY lexicon_terms (kind, text, df) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                conn.cursor().executemany("INSERT INTO lexicon_terms (kind, text, df) VALUES (%s, %s, %s) ON "
                                          "CONFLICT (kind, text) DO UPDATE SET df = lexicon_terms.df + excluded.df",
                                          rows)
            conn.cursor().executemany("INSERT INTO lexicon_meta (k, v) VALUES (%s, %s) ON CONFLICT (k) "
                                      "DO UPDATE SET v = excluded.v", list(meta.items()))
            return True

    def _read(self, sql: str, params: tuple) -> list[tuple]:
        return self.index.side_query(sql, params)

    def df(self, kind: str, text: str) -> int:
        r = self._read("SELECT df FROM lexicon_terms WHERE kind = %s AND text = %s", (kind, text))
        return r[0][0] if r else 0

    def prefixed(self, kind: str, prefix: str, n: int, min_df: int) -> list[tuple[str, int]]:
        return self._read("SELECT text, df FROM lexicon_terms WHERE kind = %s AND text >= %s AND text < %s "
                          "AND df >= %s ORDER BY df DESC, text LIMIT %s", (kind, *_prefix_range(prefix), min_df, n))

    def words(self, min_df: int) -> list[tuple[str, int]]:
        return self._read("SELECT text, df FROM lexicon_terms WHERE kind = 'word' AND df >= %s", (min_df,))

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------------- lexicon
LEXICON_BATCH = 5_000  # posts read per query while counting (PostgreSQL: the handle's lock is held per batch only)


def post_items(post: dict) -> dict[str, set[str]]:
    """What one post adds to the lexicon, by kind (each counted once per post)."""
    from warble.search.index import analysis

    toks = [t for t in analysis.analyze(post["text"]) if len(t) <= MAX_WORD_CHARS]
    return {"word": set(toks), "bigram": {f"{a} {b}" for a, b in itertools.pairwise(toks)},
            "tag": {analysis.norm_name(h) for h in post.get("hashtags") or []},
            "mention": {analysis.norm_name(m) for m in post.get("mentions") or []}}


def _count_posts(index, above: int, progress: bool) -> tuple[Counter, int, int]:
    """The lexicon items of the live posts with key > `above`: (counts, posts read, last key read)."""
    from tqdm import tqdm

    counts: Counter = Counter()
    n, last = 0, above
    with tqdm(desc="lexicon", unit="post", disable=not progress, file=sys.stderr, leave=False) as bar:
        for batch in index.iter_posts(above, batch=LEXICON_BATCH):
            for _, post in batch:
                for kind, items in post_items(post).items():
                    counts.update((kind, t) for t in items)
            n += len(batch)
            last = max(last, batch[-1][0])
            bar.update(len(batch))
    return counts, n, last


class Lexicon:
    """Post counts of the index's words, adjacent word pairs, hashtags and mentions (side data of the index: a
    SQLite file beside an embedded index, tables in a PostgreSQL index's schema)."""

    def __init__(self, terms, posts: int):
        self.terms, self.posts = terms, posts
        self._speller = None

    @classmethod
    def open(cls, index, *, progress: bool = False) -> Lexicon:
        """The lexicon of `index` (either backend), updated to its live posts (incrementally when posts were only
        added). Raises InputError when it cannot be read, or is out of date and cannot be written."""
        where = f"{index.location} (table lexicon_terms)" if _is_postgres(index) else Path(index.path) / LEXICON_FILE
        try:
            terms = _PostgresTerms(index) if _is_postgres(index) else _SqliteTerms(where)
        except _db_errors() as e:
            raise InputError(f"cannot keep the lexicon at {where}: {_first_line(e)}") from None
        try:
            return cls._open(index, terms, progress)
        except _db_errors() as e:
            terms.close()
            raise InputError(f"cannot keep the lexicon at {terms.where}: {_first_line(e)}") from None

    @classmethod
    def _open(cls, index, terms, progress: bool) -> Lexicon:
        state = {"max_key": index.max_key(), "posts": index.live_posts()}
        seen = terms.meta()
        if seen.get("version") != LEXICON_VERSION or \
                (seen.get("max_key"), seen.get("posts")) != (state["max_key"], state["posts"]):
            counts, meta, incremental = cls._count(index, seen, state, progress)
            terms.write_if(seen, counts, meta, replace=not incremental)
        return cls(terms, state["posts"])

    @staticmethod
    def _count(index, seen: dict, state: dict, progress: bool) -> tuple[Counter, dict, bool]:
        """What to write (no lock held while the posts are read): the counts of the posts added since `seen`, or,
        after any deletion, of every live post. Returns (counts, the new recorded state, incremental)."""
        incremental = seen.get("version") == LEXICON_VERSION and seen.get("max_key") is not None \
            and state["max_key"] >= seen["max_key"]
        if incremental:
            counts, n, last = _count_posts(index, seen["max_key"], progress)
            if seen["posts"] + n == state["posts"]:
                # what was read (posts added meanwhile included), so the next update starts exactly after it
                return counts, {"version": LEXICON_VERSION, "max_key": max(last, state["max_key"]),
                                 "posts": seen["posts"] + n}, True
        counts, n, last = _count_posts(index, 0, progress)  # posts died since: rebuild without them
        return counts, {"version": LEXICON_VERSION, "max_key": max(last, state["max_key"]), "posts": n}, False

    def df(self, kind: str, text: str) -> int:
        return self.terms.df(kind, text)

    def prefixed(self, kind: str, prefix: str, n: int, min_df: int = MIN_POSTS) -> list[tuple[str, int]]:
        """Items of a kind starting with `prefix`, most posts first."""
        return self.terms.prefixed(kind, prefix, n, min_df)

    def speller(self):
        """A SymSpell dictionary (symspellpy: precomputed deletes, edit distance <= 2) of the words in >= MIN_POSTS
        posts, built on first use."""
        if self._speller is None:
            from symspellpy import SymSpell

            s = SymSpell(max_dictionary_edit_distance=MAX_EDIT, prefix_length=7)
            for text, df in self.terms.words(MIN_POSTS):
                s.create_dictionary_entry(text, df)
            self._speller = s
        return self._speller

    def close(self) -> None:
        self.terms.close()


# ---------------------------------------------------------------------------------------------------- query log
class QueryLog:
    """Past queries of an index: the query text, when, and how many hits it had; no user. `warble search` appends
    unless --no-log; autocomplete offers past queries that found something. Kept in `queries.sqlite` beside an
    embedded index, in the `query_log` table of a PostgreSQL index's schema."""

    def __init__(self, db: sqlite3.Connection | None = None, index=None):
        self.db, self.index = db, index  # one of them: SQLite, or a PostgreSQL index

    @classmethod
    def open(cls, index_or_dir) -> QueryLog:
        """The log of an index (either backend), or of an embedded index's directory. Raises InputError when it
        cannot be opened (see `open_query_log` for callers to whom the log is optional)."""
        try:
            return cls._open(index_or_dir)
        except _db_errors() as e:
            raise InputError(f"cannot open the query log of {_where(index_or_dir)}: {_first_line(e)}") from None

    @classmethod
    def _open(cls, index_or_dir) -> QueryLog:
        if _is_postgres(index_or_dir):
            index_or_dir.ensure_side_tables()  # no DDL where the table exists
            return cls(index=index_or_dir)
        path = getattr(index_or_dir, "path", index_or_dir)
        db = sqlite3.connect(Path(path) / QUERY_LOG_FILE, timeout=30, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS queries (ts REAL, query TEXT, norm TEXT, hits INTEGER)")
            db.execute("CREATE INDEX IF NOT EXISTS queries_norm ON queries (norm)")
        except sqlite3.Error:
            db.close()
            raise
        return cls(db)

    @staticmethod
    def norm(query: str) -> str:
        return " ".join(query.lower().split())

    def append(self, query: str, hits: int) -> None:
        if not query.strip():
            return
        row = (time.time(), query.strip(), self.norm(query), hits)
        if self.index is not None:
            with self.index.side_transaction() as conn:
                conn.execute("INSERT INTO query_log (ts, query, norm, hits) VALUES (%s, %s, %s, %s)", row)
            return
        with self.db:
            self.db.execute("INSERT INTO queries VALUES (?, ?, ?, ?)", row)

    def completions(self, prefix: str, n: int) -> list[tuple[str, int]]:
        """Past queries that found posts and start with `prefix` (case- and space-insensitively): most asked first,
        then most recent; each as it was last typed, with how often it was asked."""
        p = self.norm(prefix) + (" " if prefix[-1:].isspace() and prefix.strip() else "")
        if self.index is not None:
            rows = self.index.side_query(
                "SELECT (array_agg(query ORDER BY ts DESC))[1], count(*) AS c, max(ts) AS t FROM query_log "
                "WHERE norm >= %s AND norm < %s AND hits > 0 GROUP BY norm ORDER BY c DESC, t DESC LIMIT %s",
                (*_prefix_range(p), n))
        else:  # SQLite: the bare column `query` comes from the row of max(ts)
            rows = self.db.execute(
                "SELECT query, count(*) AS c, max(ts) AS t FROM queries WHERE norm >= ? AND norm < ? AND hits > 0 "
                "GROUP BY norm ORDER BY c DESC, t DESC LIMIT ?", (*_prefix_range(p), n)).fetchall()
        return [(q, c) for q, c, _ in rows]

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def _where(index_or_dir) -> str:
    return str(getattr(index_or_dir, "location", None) or getattr(index_or_dir, "path", index_or_dir))


def open_query_log(index_or_dir) -> QueryLog | None:
    """The index's query log, or None (warned once) when the database will not open it: for autocomplete, which
    then offers no past queries instead of failing."""
    try:
        return QueryLog._open(index_or_dir)
    except _db_errors() as e:
        _warn_once(f"open {_where(index_or_dir)}",
                   f"the query log of {_where(index_or_dir)} cannot be used ({_first_line(e)}): no past queries")
        return None


def log_query(index_or_dir, query: str, hits: int) -> None:
    """Append one query to the index's query log. A log that cannot be written (no right to, a hot standby) never
    fails the search: it is warned about once."""
    try:
        log = QueryLog._open(index_or_dir)
        try:
            log.append(query, hits)
        finally:
            log.close()
    except _db_errors() as e:
        _warn_once(f"append {_where(index_or_dir)}",
                   f"queries are not logged to {_where(index_or_dir)} ({_first_line(e)})")


# ---------------------------------------------------------------------------------------------------- spelling
def _fold(word: str) -> str | None:
    from warble.search.index import analysis

    toks = analysis.analyze(word)
    return toks[0] if len(toks) == 1 else None


def word_corrections(lex: Lexicon, word: str, n: int = 3) -> list[dict]:
    """Index words within edit distance 2 (Damerau-Levenshtein) that `word` may be a misspelling of: closest
    first, then most posts. A word the index knows gets only candidates at least 20 times as common."""
    from symspellpy import Verbosity

    w = _fold(word)
    if w is None or not w.isalpha():  # numbers, CJK runs and multi-token words are not spell-checked
        return []
    known = lex.df("word", w)
    out = []
    for s in lex.speller().lookup(w, Verbosity.ALL, max_edit_distance=MAX_EDIT):
        if s.term == w or s.count < max(MIN_POSTS, 20 * known):
            continue
        out.append({"from": word, "to": s.term, "distance": s.distance, "posts": s.count})
    out.sort(key=lambda c: (c["distance"], -c["posts"], c["to"]))
    return out[:n]


def suggest(lex: Lexicon, query: str, n: int = 5, engine=None) -> dict:
    """"Did you mean": the query with its misspelt plain words replaced by index words (operators, #tags,
    @mentions, phrases and groups are left as typed). Suggestions rank by total edit distance, then by the posts
    holding the replacements (geometric mean); with `engine`, by the model's likelihood of the corrected words."""
    if not query.strip():
        raise InputError("empty query: nothing to suggest for")
    spans = [m for m in re.finditer(r"\S+", query)]
    options = []  # (start, end, [alternatives])
    for m in spans:
        tok = m.group(0)
        if PLAIN_WORD.fullmatch(tok) and tok != "OR":
            cands = word_corrections(lex, tok)
            if cands:
                options.append((m.start(), m.end(), cands))
    suggestions = []
    for combo in itertools.product(*[[None] + c for _, _, c in options]):
        chosen = [(s, e, c) for (s, e, _), c in zip(options, combo) if c is not None]
        if not chosen:
            continue
        text, last = [], 0
        for s, e, c in chosen:
            text += [query[last:s], c["to"]]
            last = e
        text.append(query[last:])
        dist = sum(c["distance"] for _, _, c in chosen)
        common = math.exp(sum(math.log(c["posts"]) for _, _, c in chosen) / len(chosen))
        suggestions.append({"text": "".join(text), "corrections": [c for _, _, c in chosen], "distance": dist,
                            "posts": round(common, 1)})
    if engine is not None and suggestions:
        from warble.search.rerank import query_text

        scores = engine.score([query_text(s["text"]) or s["text"] for s in suggestions])
        for s, sc in zip(suggestions, scores):
            s["model_logprob"] = round(sc.mean_logprob, 4)
        suggestions.sort(key=lambda s: (-s["model_logprob"], s["distance"]))
    else:
        # Full corrections first (every misspelt word fixed), then closer, then more common.
        suggestions.sort(key=lambda s: (-len(s["corrections"]), s["distance"], -s["posts"], s["text"]))
    return {"query": query, "suggestions": suggestions[:n], "misspelt": [q[2][0]["from"] for q in options]}


# ---------------------------------------------------------------------------------------------------- autocomplete
def _past_queries(log: QueryLog | None, prefix: str, n: int) -> list[tuple[str, int]]:
    """The log's completions of `prefix`; none (warned once) when the log cannot be read."""
    if log is None:
        return []
    try:
        return log.completions(prefix, n)
    except _db_errors() as e:
        _warn_once(f"read {_where(log.index) if log.index is not None else id(log.db)}",
                   f"past queries cannot be read ({_first_line(e)}): completing from posts only")
        return []


def complete(lex: Lexicon, prefix: str, n: int = 10, log: QueryLog | None = None) -> list[dict]:
    """Completions of a partial query, best first: past queries starting with it (most asked), then the last word
    completed from the posts: after a known word, the words that most often follow it (`phrases`), then any word
    (`terms`); a last word starting with # or @ completes to hashtags or mentions. Each: text, source, count."""
    from warble.search.index import analysis

    if not prefix.strip():
        raise InputError("empty prefix: nothing to complete")
    out: list[dict] = []
    seen = set()

    def offer(text: str, source: str, count: int) -> None:
        key = QueryLog.norm(text)
        if key not in seen and len(out) < n:
            seen.add(key)
            out.append({"text": text, "source": source, "count": count})

    for q, c in _past_queries(log, prefix, n):
        offer(q, "queries", c)
    ends_word = not prefix[-1].isspace()
    head, last = (prefix.rsplit(None, 1) + [""])[:2] if ends_word else (prefix.rstrip(), "")
    if ends_word and len(prefix.split()) == 1:
        head, last = "", prefix.strip()
    lead = (head + " ") if head else ""
    if last[:1] in "#＃@＠" and len(last) > 1:
        kind, sign = ("tag", "#") if last[0] in "#＃" else ("mention", "@")
        for t, c in lex.prefixed(kind, analysis.norm_name(last[1:]), n):
            offer(f"{lead}{sign}{t}", "hashtags" if kind == "tag" else "mentions", c)
        return out
    stem = (analysis.analyze(last) or [""])[-1] if last else ""
    if last and not stem:
        return out
    prev = analysis.analyze(head)[-1:] if head else []
    if prev:
        for t, c in lex.prefixed("bigram", f"{prev[0]} {stem}", n):
            offer(lead + t.split(" ", 1)[1], "phrases", c)
    if stem:
        for t, c in lex.prefixed("word", stem, n):
            offer(lead + t, "terms", c)
    return out


# ---------------------------------------------------------------------------------------------------- expansion
def expansion_terms(index, lex: Lexicon, query: str, n: int = 5, feedback: int = 10, engine=None) -> list[dict]:
    """Words to add to a query, by pseudo-relevance feedback: the top `feedback` posts of the query (hybrid where
    the index has embeddings, so the query's embedding neighbours count) vote for their words, each weighted by
    1 / rank and by the word's idf in the index; the query's own words, stop words, numbers and words in fewer than
    MIN_POSTS posts are left out. With `engine`, the best 3n are reordered by how much the query raises the model's
    probability of the word (PMI, per token), keeping the feedback weight as the tie-break."""
    from warble.search import ast
    from warble.search.answer import STOP_WORDS
    from warble.search.index import analysis
    from warble.search.query import parse

    node = parse(query)
    words = ast.text_terms(node)
    if not words:
        return []
    own = {t for w in words for t in analysis.analyze(w)}
    mode = "hybrid" if index.spec.get("kind") != "none" else "lexical"
    hits = index.search(node, mode=mode, limit=feedback)
    votes: Counter = Counter()
    for rank, h in enumerate(hits, 1):
        for t in set(analysis.analyze(h.text)):
            if t not in own and t not in STOP_WORDS and not t.isdigit() and len(t) > 1:
                votes[t] += 1 / rank
    scored = []
    for t, v in votes.items():
        df = lex.df("word", t)
        if df >= MIN_POSTS:
            scored.append({"term": t, "weight": round(v * math.log((lex.posts + 1) / (df + 1)), 4), "posts": df})
    scored.sort(key=lambda s: (-s["weight"], s["term"]))
    if engine is not None and scored:
        top = scored[:3 * n]
        ctx = " ".join(words) + " "
        given = engine.score([s["term"] for s in top], contexts=[ctx] * len(top))
        alone = engine.score([s["term"] for s in top])
        for s, g, a in zip(top, given, alone):
            s["pmi"] = round(g.mean_logprob - a.mean_logprob, 4)
        scored = sorted(top, key=lambda s: (-s["pmi"], -s["weight"]))
    return scored[:n]


def expanded_query(node, terms=()):
    """The query with its words loosened to `any of its words or the expansion terms`, its filters and exclusions
    kept: an And's positive word children (and Ors of words) become one Or with the terms; a bare word or an Or of
    words gains them. With no terms, this is how a question is searched: its words OR-ed (BM25 ranks the posts
    holding more of them, and rarer ones, first), where the query syntax would demand every word."""
    from warble.search import ast

    extra = tuple(ast.Term(t) for t in terms)

    def wordy(c) -> bool:
        return isinstance(c, ast.TEXT_NODES) or (isinstance(c, ast.Or) and all(wordy(x) for x in c.children))

    def flat(c) -> tuple:
        return c.children if isinstance(c, ast.Or) else (c,)

    def any_of(words: tuple):
        words = tuple(dict.fromkeys(words))
        return words[0] if len(words) == 1 else ast.Or(words)

    if wordy(node):
        return any_of(flat(node) + extra)
    if isinstance(node, ast.And):
        words = tuple(x for c in node.children if wordy(c) for x in flat(c))
        rest = tuple(c for c in node.children if not wordy(c))
        if words:
            return ast.And(rest + (any_of(words + extra),))
    return node


def search_expanded(index, node, terms: list[str], limit: int = 10, mode: str = "hybrid", **kw) -> list:
    """Hits of the query fused (reciprocal rank, k 60) with hits of its expanded form: the original's precision,
    the expansion's recall. Hits keep their fields; `score` becomes the fused score."""
    from dataclasses import replace

    first = index.search(node, mode=mode, limit=max(limit, 100), **kw)
    wide = expanded_query(node, terms)
    second = index.search(wide, mode=mode, limit=max(limit, 100), **kw) if wide != node else []
    fused: dict[str, list] = {}
    for hits in (first, second):
        for r, h in enumerate(hits, 1):
            e = fused.setdefault(h.id, [h, 0.0, r])
            e[1] += 1 / (60 + r)
    ranked = sorted(fused.values(), key=lambda e: (-e[1], e[2]))
    return [replace(h, score=s) for h, s, _ in ranked[:limit]]
