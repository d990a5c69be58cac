"""The lexical index: tantivy (BM25, an inverted index in files) and the compiler from the query AST to its queries.

Fields: `key` (the store's key; indexed and fast, for deletes and to map hits back), `text` (the post analyser,
positions for phrases), exact-value fields `hashtag`, `mention`, `author` (handle and author id), `lang`, `kind`
(`reply`, `quote`, `repost`, `links`), and integer fast fields `created_at` (ms), `like_count`, `repost_count`,
`reply_count` for ranges. Nothing is stored in tantivy: the store of record has the posts.

Compilation (`compile_query`):
- `Term`: the word through the analyser; one token is a term query, several (`e-mail`, `東京`, a URL) a phrase of
  them; a word with no token at all (`!!!`) is dropped from the query, as if it had not been typed.
- `Phrase`: a phrase query of its tokens (slop 0).
- `And`: every positive child is a Must clause, every `Not` child a MustNot clause. An And of exclusions only (and
  a lone `Not`) gets a Must clause matching every document, because a boolean query of MustNot clauses alone
  matches nothing: so `-filter:replies -#spam` is "all posts except those".
- `Or`: Should clauses (at least one must match).
- Filters (everything but Term and Phrase) score 0 (`const_score_query`), so BM25 ranks by text alone, as the AST
  says. A query without a positive word has no text score at all: its results come newest first.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import tantivy
from tantivy import FieldType, Occur, Query

from warble.search import ast
from warble.search.index import analysis

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
COUNT_FIELDS = ("like_count", "repost_count", "reply_count")
WRITER_HEAP = 128_000_000


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("key", indexed=True, fast=True)
    sb.add_text_field("text", tokenizer_name=analysis.ANALYZER_NAME, index_option="position")
    for name in ("hashtag", "mention", "author", "lang", "kind"):
        sb.add_text_field(name, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("created_at", indexed=True, fast=True)
    for name in COUNT_FIELDS:
        sb.add_integer_field(name, indexed=True, fast=True)
    return sb.build()


def day_ms(d: dt.date) -> int:
    return int((dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc) - _EPOCH).total_seconds() * 1000)


def kinds(post: dict) -> list[str]:
    out = []
    if post.get("reply_to_id"):
        out.append("reply")
    if post.get("quote_of_id"):
        out.append("quote")
    if post.get("repost_of_id"):
        out.append("repost")
    if post.get("urls"):
        out.append("links")
    return out


def document(key: int, post: dict) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_integer("key", key)
    doc.add_text("text", post["text"])
    for tag in post["hashtags"]:
        doc.add_text("hashtag", analysis.norm_name(tag))
    for user in post["mentions"]:
        doc.add_text("mention", analysis.norm_name(user))
    doc.add_text("author", analysis.norm_name(post["author_id"]))
    if post.get("author_handle"):
        doc.add_text("author", analysis.norm_name(post["author_handle"]))
    if post.get("lang"):
        doc.add_text("lang", analysis.norm_name(post["lang"]))
    for k in kinds(post):
        doc.add_text("kind", k)
    if post.get("created_at") is not None:
        doc.add_integer("created_at", int(post["created_at"]))
    for f in COUNT_FIELDS:
        if post.get(f) is not None:
            doc.add_integer(f, int(post[f]))
    return doc


# ---------------------------------------------------------------------------------------------------- AST helpers
def prune(node: ast.Node) -> ast.Node | None:
    """The AST without words that analyse to no token (`!!!`): they are dropped as if not typed. None if nothing
    is left (a query of such words only matches every post)."""
    if isinstance(node, (ast.Term, ast.Phrase)):
        return node if analysis.analyze(node.text) else None
    if isinstance(node, ast.Not):
        child = prune(node.child)
        return None if child is None else ast.Not(child)
    if isinstance(node, (ast.And, ast.Or)):
        kids = [k for k in (prune(c) for c in node.children) if k is not None]
        if not kids:
            return None
        return kids[0] if len(kids) == 1 else type(node)(tuple(kids))
    return node


def has_positive_text(node: ast.Node | None) -> bool:
    """Whether the query has a word or phrase that is not excluded: what BM25 scores and dense search embeds."""
    if isinstance(node, (ast.Term, ast.Phrase)):
        return True
    if isinstance(node, (ast.And, ast.Or)):
        return any(has_positive_text(c) for c in node.children)
    return False


def relax_text(node: ast.Node | None) -> ast.Node | None:
    """The query as a filter for dense candidates: positive words and phrases become "any post" (dense retrieval
    ranks by meaning instead), everything else stays, exclusions included (`-word` still excludes). None = no
    filter."""
    if node is None or isinstance(node, (ast.Term, ast.Phrase)):
        return None
    if isinstance(node, ast.Not):
        return node
    if isinstance(node, ast.And):
        kids = [k for k in (relax_text(c) for c in node.children) if k is not None]
        if not kids:
            return None
        return kids[0] if len(kids) == 1 else ast.And(tuple(kids))
    if isinstance(node, ast.Or):
        kids = [relax_text(c) for c in node.children]
        if any(k is None for k in kids):  # one alternative accepts any post, so the Or does
            return None
        return ast.Or(tuple(kids))
    return node


def query_words(node: ast.Node | None) -> list[str]:
    """The analysed tokens of the positive words and phrases (for highlights)."""
    return [t for w in ast.text_terms(node) for t in analysis.analyze(w)] if node is not None else []


def query_hashtags(node: ast.Node | None) -> list[str]:
    if isinstance(node, ast.Hashtag):
        return [node.tag]
    if isinstance(node, (ast.And, ast.Or)):
        return [t for c in node.children for t in query_hashtags(c)]
    return []


# ---------------------------------------------------------------------------------------------------- compiler
@dataclass
class Compiled:
    query: Query
    scored: bool  # False: no positive text, every hit scores alike (results are ordered by time)


class Compiler:
    def __init__(self, schema: tantivy.Schema):
        self.schema = schema

    def compile(self, node: ast.Node | None) -> Compiled:
        node = prune(node) if node is not None else None
        if node is None:
            return Compiled(self._all(), False)
        return Compiled(self._q(node), has_positive_text(node))

    def _all(self) -> Query:
        return Query.const_score_query(Query.all_query(), 0.0)

    def _filter(self, q: Query) -> Query:
        return Query.const_score_query(q, 0.0)

    def _term(self, field: str, value) -> Query:
        return Query.term_query(self.schema, field, value)

    def _text(self, text: str) -> Query:
        tokens = analysis.analyze(text)
        if len(tokens) == 1:
            return self._term("text", tokens[0])
        return Query.phrase_query(self.schema, "text", tokens)

    def _range(self, field: str, lo: int | None = None, hi: int | None = None, include_upper: bool = True) -> Query:
        return Query.range_query(self.schema, field, FieldType.Integer, lo, hi, include_lower=True,
                                 include_upper=include_upper)

    def _q(self, node: ast.Node) -> Query:
        if isinstance(node, (ast.Term, ast.Phrase)):
            return self._text(node.text)
        if isinstance(node, ast.And):
            pos = [(Occur.Must, self._q(c)) for c in node.children if not isinstance(c, ast.Not)]
            neg = [(Occur.MustNot, self._q(c.child)) for c in node.children if isinstance(c, ast.Not)]
            return Query.boolean_query((pos or [(Occur.Must, self._all())]) + neg)
        if isinstance(node, ast.Or):
            return Query.boolean_query([(Occur.Should, self._q(c)) for c in node.children])
        if isinstance(node, ast.Not):
            return Query.boolean_query([(Occur.Must, self._all()), (Occur.MustNot, self._q(node.child))])
        return self._filter(self._leaf(node))

    def _leaf(self, node: ast.Node) -> Query:
        if isinstance(node, ast.Hashtag):
            return self._term("hashtag", analysis.norm_name(node.tag))
        if isinstance(node, ast.Mention):
            return self._term("mention", analysis.norm_name(node.user))
        if isinstance(node, ast.From):
            return self._term("author", analysis.norm_name(node.user))
        if isinstance(node, ast.To):
            return Query.boolean_query([(Occur.Must, self._term("kind", "reply")),
                                        (Occur.Must, self._term("mention", analysis.norm_name(node.user)))])
        if isinstance(node, ast.Lang):
            return self._term("lang", analysis.norm_name(node.code))
        if isinstance(node, ast.Since):
            return self._range("created_at", lo=day_ms(node.date))
        if isinstance(node, ast.Until):
            return self._range("created_at", hi=day_ms(node.date), include_upper=False)
        if isinstance(node, ast.MinCount):
            if node.field not in COUNT_FIELDS:
                raise ValueError(f"MinCount field must be one of {COUNT_FIELDS}, got {node.field!r}")
            return self._range(node.field, lo=int(node.n))
        if isinstance(node, ast.Filter):
            kind = {"links": "links", "replies": "reply", "quote": "quote", "retweets": "repost"}.get(node.kind)
            if kind is None:
                raise ValueError(f"unknown filter kind {node.kind!r}")
            return self._term("kind", kind)
        raise TypeError(f"not a query node: {node!r}")


# ---------------------------------------------------------------------------------------------------- the index
class Lexical:
    """One tantivy index directory. The writer (and its lock: one writing process) is taken on first write."""

    def __init__(self, path: Path, *, create: bool = False):
        self.path = path
        self.schema = build_schema()
        if create:
            path.mkdir(parents=True, exist_ok=False)
            self.index = tantivy.Index(self.schema, path=str(path), reuse=False)
        else:
            self.index = tantivy.Index.open(str(path))
        analysis.register(self.index)
        self.compiler = Compiler(self.schema)
        self._writer: tantivy.IndexWriter | None = None

    @property
    def writer(self) -> tantivy.IndexWriter:
        # One indexing thread: several split the documents between their segments as they happen to be free, and
        # documents of equal BM25 are ranked by their place in the segments, so which of them take the last
        # candidate places (the 100th of a hybrid list, say) changed from build to build. With one thread an add
        # is one segment in insertion (key) order. Tantivy indexes ~100k posts/s either way; embedding is the cost.
        if self._writer is None:
            self._writer = self.index.writer(heap_size=WRITER_HEAP, num_threads=1)
        return self._writer

    def add(self, rows: Iterable[tuple[int, dict]]) -> None:
        w = self.writer
        for key, post in rows:
            w.add_document(document(key, post))

    def delete_keys(self, keys: list[int]) -> None:
        if keys:
            self.writer.delete_documents_by_query(Query.term_set_query(self.schema, "key", [int(k) for k in keys]))

    def delete_above(self, key: int) -> None:
        """Delete every document with a key above `key` (reconcile: they are re-added from the store)."""
        self.writer.delete_documents_by_query(self.compiler._range("key", lo=int(key) + 1))

    def commit(self) -> None:
        self.writer.commit()
        self.index.reload()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.wait_merging_threads()  # consumes the writer and releases its lock
            self._writer = None

    def reload(self) -> None:
        self.index.reload()

    def searcher(self) -> tantivy.Searcher:
        return self.index.searcher()

    def num_docs(self) -> int:
        return self.searcher().num_docs

    def keys_of(self, searcher: tantivy.Searcher, hits) -> list[int]:
        return [int(k) for k in searcher.fast_field_values("key", [addr for _, addr in hits])] if hits else []

    def count(self, q: Query) -> int:
        return self.searcher().search(q, 1, count=True).count

    def search(self, compiled: Compiled, limit: int) -> list[tuple[int, float]]:
        """(key, score) of the top `limit` documents: by BM25, or newest first when the query is unscored."""
        s = self.searcher()
        if compiled.scored:
            hits = s.search(compiled.query, limit, count=False).hits
            return list(zip(self.keys_of(s, hits), (float(sc) for sc, _ in hits)))
        hits = s.search(compiled.query, limit, count=False, order_by_field="created_at").hits
        return [(k, 0.0) for k in self.keys_of(s, hits)]

    def matching_keys(self, q: Query, limit: int) -> list[int]:
        s = self.searcher()
        return self.keys_of(s, s.search(q, max(limit, 1), count=False).hits)

    def doc_freq(self, word: str) -> int:
        """Documents holding the analysed word, deleted ones included until a merge or rebuild drops them."""
        return self.searcher().doc_freq("text", word)


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
