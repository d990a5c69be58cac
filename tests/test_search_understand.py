"""Query understanding (warble.search.understand): the lexicon, "did you mean", autocomplete from posts and past
queries, the query log, query expansion; `warble search --suggest/--complete/--expand`; the suggest/complete routes."""

from __future__ import annotations

import json
import re
from collections import Counter
from itertools import pairwise

import pyarrow.dataset as ds
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_search_answer import FakeEngine, make_index

from warble.cli import main
from warble.errors import InputError
from warble.search import ast as A
from warble.search.index import SearchIndex, analysis
from warble.search.query import parse
from warble.search.understand import (
    MIN_POSTS,
    Lexicon,
    QueryLog,
    complete,
    expanded_query,
    expansion_terms,
    search_expanded,
    suggest,
)
from warble.serve.app import install_error_handlers


@pytest.fixture(scope="module")
def corpus(corpus_dir, tmp_path_factory):
    """A lexical index of the small corpus, its lexicon, and brute-force counts of what the lexicon should hold."""
    table = ds.dataset(corpus_dir / "corpus", format="parquet").to_table()
    root = tmp_path_factory.mktemp("und")
    idx = SearchIndex.create(root / "idx", "none")
    idx.add(table)
    live = idx.stats()["posts"]
    posts = list(idx.get(table.column("id").to_pylist()).values())
    assert len(posts) == live
    words, bigrams, tags = Counter(), Counter(), Counter()
    for p in posts:
        toks = analysis.analyze(p["text"])
        words.update(set(toks))
        bigrams.update({f"{a} {b}" for a, b in pairwise(toks)})
        tags.update({analysis.norm_name(h) for h in p["hashtags"] or []})
    lex = Lexicon.open(idx)
    yield idx, lex, words, bigrams, tags
    lex.close()
    idx.close()


def frequent_word(words: Counter, skip=()) -> str:
    return next(w for w, _ in words.most_common() if w.isalpha() and w.isascii() and len(w) >= 6 and w not in skip)


def test_lexicon_counts_posts_per_word(corpus):
    idx, lex, words, bigrams, tags = corpus
    assert lex.posts == idx.stats()["posts"]
    for w, n in list(words.most_common(20)) + [(w, n) for w, n in words.items() if n == 1][:5]:
        assert lex.df("word", w) == n
    for b, n in bigrams.most_common(10):
        assert lex.df("bigram", b) == n
    for t, n in tags.most_common(5):
        assert lex.df("tag", t) == n
    assert lex.df("word", "qqqqzzzz") == 0


def test_did_you_mean(corpus):
    _, lex, words, _, _ = corpus
    w = frequent_word(words)
    typo = w[:2] + w[3:]  # one letter dropped
    out = suggest(lex, f"{typo} -filter:replies")
    assert out["misspelt"] == [typo]
    best = out["suggestions"][0]
    assert best["text"] == f"{best['corrections'][0]['to']} -filter:replies"
    assert any(s["corrections"][0]["to"] == w for s in out["suggestions"])
    assert all(c["distance"] <= 2 and c["posts"] >= MIN_POSTS for s in out["suggestions"] for c in s["corrections"])
    assert suggest(lex, w)["suggestions"] == []  # the commonest words are right as typed


def test_suggestions_leave_operators_alone(corpus):
    _, lex, words, _, _ = corpus
    w = frequent_word(words)
    typo = w[:2] + w[3:]
    q = f'from:{typo} #{typo} "{typo} x" {typo}'
    out = suggest(lex, q)
    assert out["misspelt"] == [typo]
    for s in out["suggestions"]:
        assert s["text"].startswith(f'from:{typo} #{typo} "{typo} x" ')
    with pytest.raises(InputError):
        suggest(lex, "  ")


def test_suggestions_ranked_by_the_model():
    class Lex:  # two candidates for "lanch": the fake model prefers the one sharing words with nothing: equal
        def df(self, kind, text):
            return {"launch": 50, "lunch": 40}.get(text, 0)

        def speller(self):
            from symspellpy import SymSpell

            s = SymSpell(max_dictionary_edit_distance=2)
            s.create_dictionary_entry("launch", 50)
            s.create_dictionary_entry("lunch", 40)
            return s

    out = suggest(Lex(), "lanch")
    assert [s["text"] for s in out["suggestions"]] == ["launch", "lunch"]  # same distance: more posts first
    out = suggest(Lex(), "lanch", engine=FakeEngine())
    assert all("model_logprob" in s for s in out["suggestions"])


def test_complete_from_posts(corpus):
    _, lex, words, bigrams, tags = corpus
    bigram = next(b for b, n in bigrams.most_common() if n >= MIN_POSTS and re.fullmatch(r"[a-z]+ [a-z]{4,}", b))
    first, second = bigram.split()
    out = complete(lex, f"{first.upper()} {second[:2]}")
    assert out[0]["source"] == "phrases" and f"{first.upper()} {second}" in [c["text"] for c in out]
    counts = [c["count"] for c in out if c["source"] == "phrases"]
    assert counts == sorted(counts, reverse=True)
    w = frequent_word(words)
    assert any(c["text"] == w and c["source"] == "terms" for c in complete(lex, w[:3], n=50))
    nxt = complete(lex, f"{first} ")  # the word after
    assert nxt and all(c["text"].startswith(f"{first} ") for c in nxt)
    if tags:
        tag = tags.most_common(1)[0][0]
        got = complete(lex, f"news #{tag[:2]}", n=50)
        assert f"news #{tag}" in [c["text"] for c in got] and {c["source"] for c in got} == {"hashtags"}
    assert complete(lex, "qqqqzzzz") == []
    with pytest.raises(InputError):
        complete(lex, " ")


def test_query_log_and_completion_from_past_queries(tmp_path):
    log = QueryLog.open(tmp_path)
    for q, hits in [("rocket launch", 3), ("Rocket  launch", 2), ("rocket landing", 1), ("rocket zzz", 0)]:
        log.append(q, hits)
    got = log.completions("ROCKET l", 10)
    assert got[0] == ("Rocket  launch", 2) or got[0][1] == 2  # asked twice (case and spaces folded)
    assert [c for _, c in got] == [2, 1]
    assert "rocket zzz" not in [q for q, _ in log.completions("rocket", 10)]  # found nothing: never offered
    log.close()


def test_lexicon_follows_adds_and_forgets_deleted_posts(tmp_path):
    idx = make_index(tmp_path / "idx")
    lex = Lexicon.open(idx)
    assert lex.df("word", "zephyrine") == 0
    lex.close()
    idx.add([{"id": "201", "author_id": "x", "text": "zephyrine skies tonight"},
             {"id": "202", "author_id": "y", "text": "more zephyrine skies"}])
    lex = Lexicon.open(idx)
    assert lex.df("word", "zephyrine") == 2 and lex.df("word", "rocket") == 2  # incremental: old counts kept
    assert [c["text"] for c in complete(lex, "zeph")] == ["zephyrine"]
    lex.close()
    idx.delete(["202"])
    lex = Lexicon.open(idx)
    assert lex.df("word", "zephyrine") == 1 and lex.df("bigram", "more zephyrine") == 0
    assert complete(lex, "zeph") == []  # in fewer than MIN_POSTS posts now: not offered
    lex.close()
    idx.close()


def test_expanded_query_shapes():
    q = parse("launch rocket -filter:replies lang:en")
    e = expanded_query(q, ["liftoff"])
    assert e == A.And((A.Not(A.Filter("replies")), A.Lang("en"),
                       A.Or((A.Term("launch"), A.Term("rocket"), A.Term("liftoff")))))
    assert expanded_query(parse("launch"), ["liftoff"]) == A.Or((A.Term("launch"), A.Term("liftoff")))
    assert expanded_query(parse("launch"), []) == A.Term("launch")
    assert expanded_query(parse("from:x"), ["y"]) == parse("from:x")  # no words: nothing to loosen
    assert expanded_query(parse('"big day" OR launch'), ["x"]) == A.Or((A.Phrase("big day"), A.Term("launch"),
                                                                       A.Term("x")))


def test_expansion_terms_by_feedback(corpus):
    idx, lex, words, _, _ = corpus
    w = frequent_word(words)
    terms = expansion_terms(idx, lex, w, n=5)
    assert 1 <= len(terms) <= 5
    assert all(t["term"] != w and lex.df("word", t["term"]) >= MIN_POSTS for t in terms)
    assert [t["weight"] for t in terms] == sorted((t["weight"] for t in terms), reverse=True)
    with_model = expansion_terms(idx, lex, w, n=3, engine=FakeEngine())
    assert len(with_model) <= 3 and all("pmi" in t for t in with_model)
    assert expansion_terms(idx, lex, "from:someone", n=5) == []
    hits = search_expanded(idx, parse(w), [t["term"] for t in terms], limit=10, mode="lexical")
    plain = idx.search(parse(w), mode="lexical", limit=10)
    assert len(hits) == 10 and hits[0].id == plain[0].id  # ranked first in both lists
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


# ---------------------------------------------------------------------------------------------------- CLI
def test_cli_suggest_complete_expand_and_log(corpus_dir, tmp_path, capsys):
    idx = tmp_path / "idx"
    assert main(["index", str(corpus_dir), "--embedder", "none", "--out", str(idx), "--no-progress"]) == 0
    with SearchIndex.open(idx, readonly=True) as i:
        sample = i.get([h.id for h in i.search("the OR a", mode="lexical", limit=300)]).values()
        w = frequent_word(Counter(t for p in sample for t in set(analysis.analyze(p["text"]))))
    capsys.readouterr()
    typo = w[:2] + w[3:]
    assert main(["search", "--index", str(idx), "--suggest", typo, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"query", "suggestions", "misspelt"} and out["suggestions"]
    assert main(["search", "--index", str(idx), "--suggest", typo]) == 0
    assert "did you mean:" in capsys.readouterr().out
    assert not (idx / "queries.sqlite").exists()  # suggestions are not searches: nothing logged
    assert main(["search", "--index", str(idx), f"{w} the", "--limit", "2"]) == 0  # logged
    assert main(["search", "--index", str(idx), f"{w} secretquery", "--no-log"]) == 0
    capsys.readouterr()
    assert main(["search", "--index", str(idx), "--complete", w[:3], "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["prefix"] == w[:3] and out["completions"][0] == {"text": f"{w} the", "source": "queries", "count": 1}
    assert all("secretquery" not in c["text"] for c in out["completions"])
    assert main(["search", "--index", str(idx), w, "--expand", "3", "--mode", "lexical", "--json", "--no-log"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["expansion"]["terms"]) <= 3 and out["hits"] and w in out["expansion"]["query"]
    assert main(["search", "--index", str(idx), "--complete", "  "]) == 2
    assert "empty prefix" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------- HTTP
def client(index):
    from warble.serve.routes.search_suggest import make_router

    app = FastAPI()
    app.state.engine, app.state.index = FakeEngine(), index
    install_error_handlers(app)
    app.include_router(make_router())
    return TestClient(app)


def test_http_suggest_and_complete(tmp_path):
    idx = make_index(tmp_path / "idx", {str(i): t for i, t in enumerate(
        ["rocket launch today", "rocket launch delayed", "launch party", "the launch was loud"] * 2)})
    c = client(idx)
    r = c.post("/v1/search/suggest", json={"text": "lanch"})
    assert r.status_code == 200, r.text
    assert r.json()["suggestions"][0]["text"] == "launch"
    r = c.post("/v1/search/complete", json={"text": "rocket la", "limit": 3})
    assert r.status_code == 200 and r.json()["completions"][0] == {"text": "rocket launch", "source": "phrases",
                                                                   "count": 4}  # 2 texts, each posted twice
    idx.add([{"id": "99", "author_id": "z", "text": "rocket landing"}, {"id": "98", "author_id": "z",
                                                                        "text": "rocket landing again"}])
    got = c.post("/v1/search/complete", json={"text": "rocket la", "limit": 5}).json()["completions"]
    assert "rocket landing" in [x["text"] for x in got]  # the app's lexicon followed the index
    for body, word in [({}, "text"), ({"text": ""}, "text"), ({"text": "  "}, "blank"), ({"text": 5}, "text"),
                       ({"text": "a", "limit": 0}, "limit"), ({"text": "a", "extra": 1}, "extra")]:
        for route in ("/v1/search/suggest", "/v1/search/complete"):
            r = c.post(route, json=body)
            assert r.status_code == 400 and word in r.json()["error"]["message"], (route, body, r.text)
    assert client(None).post("/v1/search/suggest", json={"text": "a"}).status_code == 404
    idx.close()
