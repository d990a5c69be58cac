"""Query understanding: "did you mean" spelling suggestions, autocomplete, query expansion, and the query log.

    lex = Lexicon.open(index)                  # the index's words, bigrams, hashtags, mentions with post counts
    suggest(lex, "lanch delayed")              # {"suggestions": [{"text": "launch delayed", "corrections": [...]}]}
    complete(lex, "new lau", log=QueryLog.open(index.path))   # [{"text": "new launch", "source": "phrases"}, ...]
    expand(index, lex, "launch")               # {"terms": [...]} from pseudo-relevance feedback

Everything is drawn from the index's live posts (and, for autocomplete, from past queries), read through the
index's analyzer so that suggestions are words the index matches. The lexicon is a side file of the index
(`lexicon.sqlite`), brought up to date on open: new posts are counted incrementally; any deletion or opt-out since
it was built makes it rebuild from the live posts, so a deleted post's words never come back as suggestions.
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
from collections.abc import Iterator
from pathlib import Path

from warble.errors import InputError

LEXICON_FILE = "lexicon.sqlite"
QUERY_LOG_FILE = "queries.sqlite"
LEXICON_VERSION = 1
MIN_POSTS = 2  # a word or phrase is offered only if this many live posts hold it
MAX_WORD_CHARS = 40
MAX_EDIT = 2
PLAIN_WORD = re.compile(r"[\w']+")  # a query token that is a word (not an operator, #tag, @user, phrase, group)


# ---------------------------------------------------------------------------------------------------- lexicon
def _live_posts(index, above: int = 0) -> Iterator[list[tuple[int, dict]]]:
    """Batches of (key, post) of the live posts with key > above. (The contract has no public iterator over the
    posts yet; this is the one place that reads the store directly.)"""
    yield from index.store.iter_live(above=above)


def post_items(post: dict) -> dict[str, set[str]]:
    """What one post adds to the lexicon, by kind (each counted once per post)."""
    from warble.search.index import analysis

    toks = [t for t in analysis.analyze(post["text"]) if len(t) <= MAX_WORD_CHARS]
    return {"word": set(toks), "bigram": {f"{a} {b}" for a, b in itertools.pairwise(toks)},
            "tag": {analysis.norm_name(h) for h in post.get("hashtags") or []},
            "mention": {analysis.norm_name(m) for m in post.get("mentions") or []}}


class Lexicon:
    """Post counts of the index's words, adjacent word pairs, hashtags and mentions (SQLite beside the index)."""

    def __init__(self, db: sqlite3.Connection, posts: int):
        self.db, self.posts = db, posts
        self._speller = None

    @classmethod
    def open(cls, index, *, progress: bool = False) -> Lexicon:
        """The lexicon of `index`, updated to its live posts (incrementally when posts were only added)."""
        if getattr(index, "path", None) is None or not hasattr(index, "store"):
            raise InputError("suggestions need an index with a directory (the embedded backend) for their lexicon")
        path = Path(index.path) / LEXICON_FILE
        try:
            return cls._open(index, path, progress)
        except sqlite3.Error as e:
            raise InputError(f"cannot keep the lexicon at {path}: {e}") from None

    @classmethod
    def _open(cls, index, path: Path, progress: bool) -> Lexicon:
        db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER);"
                         "CREATE TABLE IF NOT EXISTS terms (kind TEXT, text TEXT, df INTEGER, PRIMARY KEY (kind, text))"
                         " WITHOUT ROWID;")
        stats = index.stats()
        with db:
            db.execute("BEGIN IMMEDIATE")  # one updater at a time; others wait, then find it current
            meta = dict(db.execute("SELECT k, v FROM meta").fetchall())
            state = (stats["max_key"], stats["posts"])
            if meta.get("version") != LEXICON_VERSION or (meta.get("max_key"), meta.get("posts")) != state:
                cls._update(db, index, meta, stats, progress)
        return cls(db, stats["posts"])

    @staticmethod
    def _update(db, index, meta: dict, stats: dict, progress: bool) -> None:
        from tqdm import tqdm

        incremental = meta.get("version") == LEXICON_VERSION and meta.get("max_key") is not None \
            and stats["max_key"] >= meta["max_key"]
        above = meta["max_key"] if incremental else 0
        counts: Counter = Counter()
        n, last = 0, above
        with tqdm(desc="lexicon", unit="post", disable=not progress, file=sys.stderr, leave=False) as bar:
            for batch in _live_posts(index, above):
                for _, post in batch:
                    for kind, items in post_items(post).items():
                        counts.update((kind, t) for t in items)
                n += len(batch)
                last = max(last, batch[-1][0])
                bar.update(len(batch))
        if incremental and meta["posts"] + n != stats["posts"]:  # posts died since: rebuild without them
            Lexicon._update(db, index, {}, stats, progress)
            return
        if not incremental:
            db.execute("DELETE FROM terms")
        db.executemany("INSERT INTO terms (kind, text, df) VALUES (?, ?, ?) ON CONFLICT (kind, text) "
                       "DO UPDATE SET df = df + excluded.df", ((k, t, c) for (k, t), c in counts.items()))
        # What was read (posts added meanwhile included), so the next update starts exactly after it.
        posts = (meta["posts"] if incremental else 0) + n
        db.executemany("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)",
                       [("version", LEXICON_VERSION), ("max_key", max(last, stats["max_key"])),
                        ("posts", posts)])

    def df(self, kind: str, text: str) -> int:
        r = self.db.execute("SELECT df FROM terms WHERE kind = ? AND text = ?", (kind, text)).fetchone()
        return r[0] if r else 0

    def prefixed(self, kind: str, prefix: str, n: int, min_df: int = MIN_POSTS) -> list[tuple[str, int]]:
        """Items of a kind starting with `prefix`, most posts first."""
        return self.db.execute("SELECT text, df FROM terms WHERE kind = ? AND text >= ? AND text < ? AND df >= ? "
                               "ORDER BY df DESC, text LIMIT ?", (kind, prefix, prefix + "\U0010ffff", min_df, n)
                               ).fetchall()

    def speller(self):
        """A SymSpell dictionary (symspellpy: precomputed deletes, edit distance <= 2) of the words in >= MIN_POSTS
        posts, built on first use."""
        if self._speller is None:
            from symspellpy import SymSpell

            s = SymSpell(max_dictionary_edit_distance=MAX_EDIT, prefix_length=7)
            for text, df in self.db.execute("SELECT text, df FROM terms WHERE kind = 'word' AND df >= ?",
                                            (MIN_POSTS,)):
                s.create_dictionary_entry(text, df)
            self._speller = s
        return self._speller

    def close(self) -> None:
        self.db.close()


# ---------------------------------------------------------------------------------------------------- query log
class QueryLog:
    """Past queries of an index (`queries.sqlite` beside it): the query text, when, and how many hits it had; no
    user. `warble search` appends unless --no-log; autocomplete offers past queries that found something."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    @classmethod
    def open(cls, index_dir: str | Path) -> QueryLog:
        db = sqlite3.connect(Path(index_dir) / QUERY_LOG_FILE, timeout=30, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS queries (ts REAL, query TEXT, norm TEXT, hits INTEGER)")
        db.execute("CREATE INDEX IF NOT EXISTS queries_norm ON queries (norm)")
        return cls(db)

    @staticmethod
    def norm(query: str) -> str:
        return " ".join(query.lower().split())

    def append(self, query: str, hits: int) -> None:
        if query.strip():
            with self.db:
                self.db.execute("INSERT INTO queries VALUES (?, ?, ?, ?)", (time.time(), query.strip(),
                                                                           self.norm(query), hits))

    def completions(self, prefix: str, n: int) -> list[tuple[str, int]]:
        """Past queries that found posts and start with `prefix` (case- and space-insensitively): most asked first,
        then most recent; each with how often it was asked."""
        p = self.norm(prefix) + (" " if prefix[-1:].isspace() and prefix.strip() else "")
        return [(q, c) for q, c, _ in self.db.execute(
            "SELECT query, count(*) AS c, max(ts) AS t FROM queries WHERE norm >= ? AND norm < ? AND hits > 0 "
            "GROUP BY norm ORDER BY c DESC, t DESC LIMIT ?", (p, p + "\U0010ffff", n))]

    def close(self) -> None:
        self.db.close()


def log_query(index_dir: str | Path, query: str, hits: int) -> None:
    """Append one query to the index's query log (a failure to write it never fails the search)."""
    try:
        log = QueryLog.open(index_dir)
        try:
            log.append(query, hits)
        finally:
            log.close()
    except sqlite3.Error as e:
        print(f"warning: query not logged ({e})", file=sys.stderr)


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

    if log is not None:
        for q, c in log.completions(prefix, n):
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
