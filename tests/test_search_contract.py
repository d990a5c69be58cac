"""The search index contract, run against both backends: embedded (files) and PostgreSQL + pgvector (a real server
on loopback, tests/pg_server.py).

What is equal between the backends, and checked here, on the same posts:
- the set of matching posts of every query (every operator, filter and generated boolean combination), equal to a
  brute-force evaluation of the AST;
- lexical BM25 scores (to 1e-4 relative) on an index without deletions since its last compaction, so the lexical
  top-k is the same up to the order among equal scores;
- dense scores: both return the exact top-k cosine scores on this corpus (both use HNSW; at 2,000 posts the walk is
  exact), so lists differ only in the order among equal vectors (the test model maps duplicates to one vector);
- hybrid top-k wherever both backends' candidate lists are equal (both order equal scores by insertion order; the
  lists can differ where a tie straddles the cut, or an HNSW walk misses a vector), at least half the queries;
- incremental add, delete, opt-out (with reposts of removed posts) visible at once, refused re-adds, compaction.
"""

from __future__ import annotations

import datetime as dt
import random

import pyarrow.dataset as ds
import pytest
from test_search_index import _gen, _prune_reference, _vocab, corpus_posts, matches, post, reference

from warble.search import ast as A
from warble.search.index import WarbleEmbedder, create_index
from warble.search.index.lexical import relax_text
from warble.search.query import parse

pytest_plugins = ["pg_server"]  # fixtures pg_dsn, fresh_schema: a PostgreSQL server on loopback
BACKENDS = ["embedded", "postgres"]
OPERATOR_QUERIES = [
    "launch", "pizza weekend", '"the game"', "-pizza", "pizza OR music", "(pizza OR music) -weekend", "#ai",
    "-#ai", "@someone", "from:someone", "to:someone", "lang:en", "lang:ja -lang:en", "since:2025-06-01",
    "until:2025-03-01", "-since:2025-06-01", "min_faves:3", "min_retweets:1", "min_replies:2", "filter:links",
    "filter:replies", "-filter:replies", "filter:quote", "filter:retweets", "東京", "café", "e-mail", "!!! pizza",
    "(love OR hate) lang:en min_faves:1 -filter:replies", "-(filter:links OR filter:replies) since:2025-01-01",
]


@pytest.fixture(scope="module")
def posts(corpus_dir) -> list[dict]:
    return corpus_posts(corpus_dir)


@pytest.fixture(scope="module")
def embedder(run_dir):
    e = WarbleEmbedder(run_dir)
    yield e
    e.close()


def _make(backend: str, tmp_path_factory, pg_dsn, embedder, name: str):
    if backend == "embedded":
        return create_index(tmp_path_factory.mktemp(name) / "idx", embedder)
    return create_index(f"{name}_{random.randrange(1 << 30)}", embedder, backend="postgres", dsn=pg_dsn)


@pytest.fixture(scope="module")
def indexes(corpus_dir, tmp_path_factory, embedder, request):
    """Both backends over the same corpus (the session's 2,000 posts, embedded by the session's small model)."""
    dsn = request.getfixturevalue("pg_dsn")
    table = ds.dataset(corpus_dir / "corpus", format="parquet").to_table()
    out = {}
    for b in BACKENDS:
        idx = _make(b, tmp_path_factory, dsn, embedder, "contract")
        for batch in table.to_batches(max_chunksize=700):
            idx.add(batch)
        out[b] = idx
    yield out
    for idx in out.values():
        idx.close()


def _ids(idx, q, mode="lexical", n=5000) -> list[str]:
    return [h.id for h in idx.search(q, mode=mode, limit=n)]


def _same_ranking(a, b, tol=1e-4) -> bool:
    """Two hit lists rank the same posts, up to the order among (nearly) equal scores."""
    if len(a) != len(b) or any(abs(x.score - y.score) > tol * max(1.0, abs(x.score)) for x, y in zip(a, b)):
        return False
    groups_a, groups_b = _tie_groups(a, tol), _tie_groups(b, tol)
    # the last group may be cut by the limit: only compare whole groups
    return groups_a[:-1] == groups_b[:-1] and len(groups_a) == len(groups_b)


def _tie_groups(hits, tol) -> list[frozenset]:
    groups, cur, last = [], set(), None
    for h in hits:
        if last is not None and abs(h.score - last) > tol * max(1.0, abs(last)):
            groups.append(frozenset(cur))
            cur = set()
        cur.add(h.id)
        last = h.score
    groups.append(frozenset(cur))
    return groups


# ---------------------------------------------------------------------------------------------------- matching
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_operator_matches_brute_force(indexes, posts, backend):
    idx = indexes[backend]
    for q in OPERATOR_QUERIES:
        node = parse(q)
        pruned = _prune_reference(node)
        want = {p["id"] for p in posts} if pruned is None else reference(pruned, posts)
        assert set(_ids(idx, node)) == want, q


@pytest.mark.parametrize("backend", BACKENDS)
def test_generated_queries_match_brute_force(indexes, posts, backend):
    rng, v = random.Random(7), _vocab(posts)
    idx = indexes[backend]
    for _ in range(120):
        node = _gen(rng, v, 3)
        assert set(_ids(idx, node)) == reference(node, posts), node


def test_lexical_scores_and_top_k_equal_across_backends(indexes, posts):
    rng, v = random.Random(11), _vocab(posts)
    words = v["words"][:200]
    queries = [rng.choice(words) for _ in range(30)] + [f"{rng.choice(words)} {rng.choice(words)}" for _ in range(30)]
    queries += [f'"{p["text"].split()[0]} {p["text"].split()[1]}"' for p in rng.sample(posts, 30)
                if len(p["text"].split()) > 2]
    queries += [f"{rng.choice(words)} OR {rng.choice(words)} -filter:replies" for _ in range(20)]
    queries += [f"({rng.choice(words)} {rng.choice(words)}) OR {rng.choice(words)} lang:en" for _ in range(20)]
    compared = 0
    for q in queries:
        node = parse(q)
        a = indexes["embedded"].search(node, mode="lexical", limit=50)
        b = indexes["postgres"].search(node, mode="lexical", limit=50)
        assert _same_ranking(a, b), (q, [(h.id, h.score) for h in a][:5], [(h.id, h.score) for h in b][:5])
        compared += bool(a)
    assert compared >= 60


def test_pure_filters_come_newest_first_on_both(indexes):
    for q in ("lang:en -filter:replies", "#ai", "min_faves:2"):
        for b in BACKENDS:
            hits = indexes[b].search(q, limit=20)
            times = [h.created_at for h in hits]
            assert times == sorted(times, reverse=True) and all(h.score == 0 for h in hits), (b, q)
        assert {h.created_at for h in indexes["embedded"].search(q, limit=20)} == \
               {h.created_at for h in indexes["postgres"].search(q, limit=20)}


# ---------------------------------------------------------------------------------------------------- dense, hybrid
def _exact_dense(idx, posts_by_id, node, k):
    """The exact top-k cosine scores among the posts passing the query's filter (from the embedded index's own
    vectors, which both backends store alike)."""
    emb = idx
    filt = relax_text(node)
    keys = [r[0] for r in emb.store.db.execute("SELECT key FROM posts WHERE live = 1")]
    ids = {r[0]: r[1] for r in emb.store.db.execute("SELECT key, id FROM posts")}
    keys = [k_ for k_ in keys if filt is None or matches(filt, posts_by_id[ids[k_]])]
    sims = emb.dense.vectors()[emb.dense.slots(keys)] @ emb._query_vector(" ".join(A.text_terms(node)))
    return sorted((float(s) for s in sims), reverse=True)[:k]


def test_dense_returns_the_exact_top_k_on_both(indexes, posts):
    by_id = {p["id"]: p for p in posts}
    for q in ("pizza", "launch delayed", "music lang:en", "game -filter:replies", "love min_faves:1",
              "news (lang:es OR lang:pt)", "team since:2025-06-01"):
        node = parse(q)
        want = _exact_dense(indexes["embedded"], by_id, node, 10)
        for b in BACKENDS:
            hits = indexes[b].search(node, mode="dense", limit=10)
            assert [round(h.score, 3) for h in hits] == [round(s, 3) for s in want], (b, q)
            filt = relax_text(node)
            assert all(filt is None or matches(filt, by_id[h.id]) for h in hits)


def test_hybrid_top_k_equal_where_candidate_lists_are(indexes, posts):
    """Fusion is the same code on both backends, so equal candidate lists give equal hybrid results. Both order equal
    scores by insertion order; the lists can still differ where a tie straddles the 100th place, or where an HNSW
    walk misses a vector: those queries are counted, not compared."""
    rng, v = random.Random(5), _vocab(posts)
    compared = 0
    for _ in range(60):
        q = rng.choice(v["words"]) + rng.choice(["", " lang:en", " -filter:replies", " min_faves:1"])
        node = parse(q)
        lists = {b: [[h.id for h in indexes[b].search(node, mode=m, limit=100)] for m in ("lexical", "dense")]
                 for b in BACKENDS}
        if lists["embedded"] != lists["postgres"]:
            continue
        a = indexes["embedded"].search(node, mode="hybrid", limit=10)
        b = indexes["postgres"].search(node, mode="hybrid", limit=10)
        assert [h.id for h in a] == [h.id for h in b], q
        assert [round(h.score, 9) for h in a] == [round(h.score, 9) for h in b]
        compared += 1
    assert compared >= 30, f"only {compared} of 60 queries had equal candidate lists"


# ---------------------------------------------------------------------------------------------------- updates
def _small_posts():
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return [post(1, "the rocket launch is delayed", author_id="ann", hashtags=["space"]),
            post(2, "launch party tonight", author_id="bob"),
            post(3, "the rocket launch is delayed", author_id="cat", repost_of_id="p1"),
            post(4, "quiet evening with tea", author_id="ann", created_at=t0),
            post(5, "launch window opens", author_id="dan", reply_to_id="p1", mentions=["ann"])]


@pytest.mark.parametrize("backend", BACKENDS)
def test_add_delete_opt_out_and_compact_at_once(backend, tmp_path_factory, pg_dsn, embedder):
    idx = _make(backend, tmp_path_factory, pg_dsn, embedder, "updates")
    try:
        assert idx.add(_small_posts()) == 5 and idx.live_posts() == 5
        assert set(_ids(idx, "launch")) == {"p1", "p2", "p3", "p5"}
        assert _ids(idx, "to:ann") == ["p5"]
        assert idx.add(_small_posts()) == 0 and idx.last_add["duplicates"] == 5
        assert idx.add([post(6, "another launch")]) == 1 and "p6" in _ids(idx, "launch")  # searchable at once
        assert idx.delete(["p1"]) == 2  # p1 and its repost p3
        assert idx.live_posts() == idx.stats()["posts"] == 4
        for mode in ("lexical", "dense", "hybrid"):
            got = {h.id for h in idx.search("rocket launch delayed", mode=mode, limit=50)}
            assert not got & {"p1", "p3"}, mode
        assert idx.get(["p1", "p2"]).keys() == {"p2"}
        assert idx.add([post(1, "back again")]) == 0  # a deleted id is never added again
        assert idx.add([post(7, "reposting the delayed launch", repost_of_id="p1")]) == 0
        r = idx.apply_compliance(opt_out_authors=["ann"])
        assert r["removed"] == 1 and not {"p4"} & set(_ids(idx, "-filter:links"))
        assert idx.add([post(8, "ann again", author_id="ann")]) == 0 and idx.last_add["refused_compliance"] == 1
        assert idx.live_posts() == 3
        assert idx.compact()["removed"] == 3
        assert idx.live_posts() == idx.stats()["posts"] == 3 and set(_ids(idx, "-filter:links")) == {"p2", "p5", "p6"}
        assert set(_ids(idx, "launch")) == {"p2", "p5", "p6"}
    finally:
        idx.close()


def test_both_backends_agree_after_the_same_updates(tmp_path_factory, pg_dsn, embedder, posts):
    sample = random.Random(3).sample(posts, 400)
    clean = [{k: v for k, v in p.items() if not k.startswith("_")} for p in sample]
    idxs = {b: _make(b, tmp_path_factory, pg_dsn, embedder, "agree") for b in BACKENDS}
    try:
        for idx in idxs.values():
            idx.add(clean[:250])
            idx.delete([p["id"] for p in clean[:20]])
            idx.apply_compliance(opt_out_authors=[clean[30]["author_id"]], deleted_posts=[clean[40]["id"]])
            idx.add(clean[250:])
            idx.compact()
        v = _vocab(sample)
        rng = random.Random(9)
        for _ in range(40):
            node = _gen(rng, v, 2)
            a, b = (idxs[x].search(node, mode="lexical", limit=500) for x in BACKENDS)
            assert {h.id for h in a} == {h.id for h in b}, node
            assert _same_ranking(a, b), node
        assert idxs["embedded"].stats()["posts"] == idxs["postgres"].stats()["posts"]
    finally:
        for idx in idxs.values():
            idx.close()


def test_suggestions_autocomplete_and_query_log_on_both(tmp_path_factory, pg_dsn, posts):
    """Query understanding (`warble.search.understand`) keeps the same side data on both backends (SQLite files
    beside the embedded index, tables in the PostgreSQL schema): the lexicon's post counts of words, bigrams,
    hashtags and mentions, so the same "did you mean" and autocomplete; the query log, written through read-only
    handles as `warble search` writes it; and a lexicon that follows adds and forgets deleted posts."""
    from collections import Counter

    from warble.search.index import open_index
    from warble.search.understand import Lexicon, QueryLog, complete, log_query, post_items, suggest

    sample = [{k: v for k, v in p.items() if not k.startswith("_")} for p in random.Random(5).sample(posts, 600)]
    idxs = {b: _make(b, tmp_path_factory, pg_dsn, "none", "understand") for b in BACKENDS}

    def expected(idx) -> Counter:
        live = idx.get([p["id"] for p in sample]).values()
        return Counter((kind, t) for p in live for kind, items in post_items(p).items() for t in items)

    def check_lexicons() -> dict:
        lexes = {b: Lexicon.open(idx) for b, idx in idxs.items()}
        want = expected(idxs["embedded"])
        assert want == expected(idxs["postgres"])
        for b, lex in lexes.items():
            assert lex.posts == idxs[b].stats()["posts"]
            for (kind, t), n in want.most_common(30) + list(want.items())[-10:]:
                assert lex.df(kind, t) == n, (b, kind, t)
        return lexes

    try:
        for idx in idxs.values():
            idx.add(sample[:500])
        lexes = check_lexicons()
        words = Counter({t: n for (kind, t), n in expected(idxs["embedded"]).items()
                         if kind == "word" and t.isascii() and t.isalpha() and len(t) >= 6})
        word = words.most_common(1)[0][0]
        typo = word[:2] + word[3:]
        got = {b: suggest(lex, f"{typo} -filter:replies") for b, lex in lexes.items()}
        assert got["embedded"]["suggestions"] and got["embedded"] == got["postgres"]
        got = {b: complete(lex, f"{word[:3]}", n=20) for b, lex in lexes.items()}
        assert word in [c["text"] for c in got["embedded"]] and got["embedded"] == got["postgres"]
        for lex in lexes.values():
            lex.close()

        logged = {}
        for b, idx in idxs.items():
            reader = open_index(idx.path if b == "embedded" else idx.schema, backend=b, dsn=pg_dsn, readonly=True)
            try:
                for q, hits in [("Rocket  launch", 3), ("rocket landing", 2), ("rocket launch", 1), ("rocket zzz", 0)]:
                    log_query(reader, q, hits)
                log = QueryLog.open(reader)
                logged[b] = log.completions("ROCKET l", 10), log.completions("rocket", 10)
                log.close()
            finally:
                reader.close()
        # asked twice (case and spaces folded), shown as last typed; a query that found nothing is never offered
        assert logged["embedded"] == logged["postgres"]
        assert logged["postgres"][0] == [("rocket launch", 2), ("rocket landing", 1)]
        assert "rocket zzz" not in [q for q, _ in logged["postgres"][1]]

        for idx in idxs.values():
            idx.add(sample[500:])
        for lex in check_lexicons().values():  # counted incrementally
            lex.close()
        for idx in idxs.values():
            idx.delete([p["id"] for p in sample[:40]])
        for lex in check_lexicons().values():  # rebuilt without the deleted posts
            lex.close()
    finally:
        for idx in idxs.values():
            idx.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_lexicon_counts_posts_without_holding_the_index_lock(backend, tmp_path_factory, pg_dsn, monkeypatch):
    """A lexicon update reads the posts with the index handle's lock free (searches on a shared handle go on),
    taking it only for the short write; a delete makes it rebuild."""
    from warble.search import understand

    idx = _make(backend, tmp_path_factory, pg_dsn, "none", "lexlock")
    counted = []

    def items(post):
        counted.append(idx._lock._is_owned())  # by this thread: the one counting
        return real(post)

    real = understand.post_items
    monkeypatch.setattr(understand, "post_items", items)
    try:
        idx.add(_small_posts())
        understand.Lexicon.open(idx).close()
        idx.delete(["p2"])
        lex = understand.Lexicon.open(idx)
        assert lex.df("word", "party") == 0 and lex.df("word", "launch") == 3 and lex.posts == 4
        lex.close()
        assert len(counted) == 5 + 4 and not any(counted)
    finally:
        idx.close()


def test_live_posts_counter_started_for_an_older_embedded_index(tmp_path):
    """An index made before the live-post counter: counted until a writer opens it, which starts the counter."""
    from warble.search.index import SearchIndex
    from warble.search.index.store import LIVE_POSTS

    with SearchIndex.create(tmp_path / "idx", "none") as idx:
        idx.add(_small_posts())
        idx.delete(["p2"])
        idx.store.db.execute("DELETE FROM meta WHERE k = ?", (LIVE_POSTS,))
    with SearchIndex.open(tmp_path / "idx", readonly=True) as reader:
        assert reader.live_posts() == 4 and reader.store.get_meta(LIVE_POSTS) is None
    with SearchIndex.open(tmp_path / "idx") as idx:
        assert idx.store.get_meta(LIVE_POSTS) == 4
        idx.add([post(9, "one more")])
        assert idx.live_posts() == idx.stats()["posts"] == 5


def test_http_suggest_complete_and_query_log_on_both(tmp_path_factory, pg_dsn, posts):
    """The server's /v1/search/suggest and /complete work on a read-only index of either backend, with the same
    answers, and /v1/search logs its queries there, so the next completion offers them."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from warble.search.index import open_index
    from warble.serve.app import install_error_handlers
    from warble.serve.routes import search_suggest
    from warble.serve.routes.search_answer import log_query

    sample = [{k: v for k, v in p.items() if not k.startswith("_")} for p in random.Random(7).sample(posts, 300)]
    sample += [{"id": f"r{i}", "author_id": "z", "text": t} for i, t in enumerate(["rocket launch today"] * 3)]
    got = {}
    for b in BACKENDS:
        writer = _make(b, tmp_path_factory, pg_dsn, "none", "http")
        writer.add(sample)
        reader = open_index(writer.path if b == "embedded" else writer.schema, backend=b, dsn=pg_dsn, readonly=True)
        app = FastAPI()
        app.state.index = reader
        install_error_handlers(app)
        app.include_router(search_suggest.make_router())
        try:
            with TestClient(app) as c:
                suggest = c.post("/v1/search/suggest", json={"text": "rockt"})
                assert suggest.status_code == 200, (b, suggest.text)
                log_query(reader, "rocket science", 2)  # what /v1/search and /v1/search/answer do per query
                done = c.post("/v1/search/complete", json={"text": "rocket s", "limit": 3})
                assert done.status_code == 200, (b, done.text)
                got[b] = suggest.json(), done.json()
        finally:
            reader.close()
            writer.close()
    assert got["embedded"] == got["postgres"]
    assert got["postgres"][0]["suggestions"][0]["text"] == "rocket"
    assert {"text": "rocket science", "source": "queries", "count": 1} in got["postgres"][1]["completions"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_last_add_counts_duplicates_within_a_batch_alike(backend, tmp_path_factory, pg_dsn):
    """Both backends screen new posts with one rule (SearchBackend._screen), so they count alike: a batch's repeated
    id is a duplicate, an id already indexed too, an opted-out author's post is refused."""
    idx = _make(backend, tmp_path_factory, pg_dsn, "none", "screen")
    try:
        assert idx.add([{"id": "1", "author_id": "a", "text": "first post"}]) == 1
        idx.apply_compliance(["gone"], [])
        batch = [{"id": "2", "author_id": "a", "text": "hello"}, {"id": "2", "author_id": "a", "text": "hello"},
                 {"id": "1", "author_id": "a", "text": "first post"}, {"id": "3", "author_id": "gone", "text": "x"}]
        assert idx.add(batch) == 1
        assert idx.last_add == {"given": 4, "added": 1, "duplicates": 2, "refused_compliance": 1}
    finally:
        idx.close()
