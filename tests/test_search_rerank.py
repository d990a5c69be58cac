"""The model reranker (warble.search.rerank): fusion of the first stage's order with the model's, with a fake scorer
whose preferences are known, and with the real engine; `warble search --rerank`."""

from __future__ import annotations

import json
import math

import pyarrow.dataset as ds
import pytest
from test_search_answer import FakeEngine

from warble.cli import main
from warble.errors import InputError
from warble.search.index import Hit, SearchIndex
from warble.search.rerank import RRF_K, model_scores, query_text, rerank


def hit(i: str, text: str, score: float) -> Hit:
    return Hit(id=i, author_id="a", author_handle=None, created_at=None, text=text, lang=None, reply_to_id=None,
               quote_of_id=None, repost_of_id=None, hashtags=[], mentions=[], urls=[], like_count=None,
               repost_count=None, reply_count=None, quote_count=None, score=score)


# First stage order: a, b, c, d, e. The fake model prefers posts holding more query words: c (3), a (2), d (1), b/e (0).
HITS = [hit("a", "rocket launch today", 5.0), hit("b", "pizza tonight", 4.0),
        hit("c", "rocket launch delayed again", 3.0), hit("d", "launch of a phone", 2.0), hit("e", "cats", 1.0)]
QUERY = "rocket launch delayed"


def test_model_alone_orders_by_the_model():
    out = rerank(FakeEngine(), QUERY, HITS, top_n=5, weight=1.0)
    assert [r.hit.id for r in out] == ["c", "a", "d", "b", "e"]  # ties (b, e) keep the first-stage order
    assert [r.first_rank for r in out] == [3, 1, 4, 2, 5]
    assert out[0].model_score == pytest.approx(-2 + 1)  # every query word in c's text: mean -1
    assert out[3].model_score == pytest.approx(-2)


def test_weight_zero_keeps_the_first_stage_order():
    out = rerank(FakeEngine(), QUERY, HITS, top_n=5, weight=0.0)
    assert [r.hit.id for r in out] == ["a", "b", "c", "d", "e"]


def test_half_weight_is_reciprocal_rank_fusion_by_hand():
    out = rerank(FakeEngine(), QUERY, HITS, top_n=5, weight=0.5)
    model_rank = {"c": 1, "a": 2, "d": 3, "b": 4, "e": 5}
    want = {h.id: 0.5 / (RRF_K + r) + 0.5 / (RRF_K + model_rank[h.id]) for r, h in enumerate(HITS, 1)}
    assert [r.hit.id for r in out] == sorted(want, key=lambda i: (-want[i], "abcde".index(i)))
    assert all(math.isclose(r.score, want[r.hit.id]) for r in out)
    assert out[0].hit.id == "a" and out[1].hit.id == "c"  # a: ranks 1 and 2; c: 3 and 1


def test_only_the_top_n_are_scored_and_the_rest_follow():
    eng = FakeEngine()
    out = rerank(eng, QUERY, HITS, top_n=3, weight=1.0)
    assert len(eng.scored) == 3
    assert [r.hit.id for r in out] == ["c", "a", "b", "d", "e"]
    assert [r.model_score is None for r in out] == [False] * 3 + [True] * 2
    assert out[2].score > out[3].score > out[4].score
    d = out[3].to_dict()
    assert d["first_stage_rank"] == 4 and d["first_stage_score"] == 2.0 and d["model_score"] is None


def test_pmi_subtracts_the_posts_prior():
    eng = FakeEngine()
    s = model_scores(eng, "rocket launch", ["rocket launch today", "cats"], method="pmi")
    # given the query: rocket, launch found (+1 each of 3 words); alone: none found
    assert s == pytest.approx([2 / 3, 0.0])
    assert [t for t, c in eng.scored if c is None] == ["rocket launch today", "cats"]


def test_the_query_words_are_scored_not_its_operators():
    assert query_text('#ai from:x launch -pizza "big day" lang:en') == "launch big day"
    assert query_text("#ai from:x") == "#ai from:x"  # no words: the text itself
    assert query_text("broken (query") == "broken (query"
    eng = FakeEngine()
    rerank(eng, "launch from:someone", HITS[:1], top_n=1)
    assert eng.scored[0][0] == "launch"


def test_context_is_cut_to_the_model():
    eng = FakeEngine(max_context=40)
    model_scores(eng, "rocket launch", ["x" * 500])
    (text, ctx), = eng.scored
    assert len(text.encode()) + len(ctx.encode()) + 1 <= 40


@pytest.mark.parametrize("kw,msg", [({"top_n": 0}, "top_n"), ({"weight": 1.5}, "weight"),
                                    ({"method": "vibes"}, "method")])
def test_bad_arguments(kw, msg):
    with pytest.raises(InputError, match=msg):
        rerank(FakeEngine(), QUERY, HITS, **{"top_n": 3, **kw})


# ---------------------------------------------------------------------------------------------------- real engine
def test_real_engine_reranks_corpus_hits(run_dir, corpus_dir, tmp_path):
    from warble.serve.engine import Engine

    table = ds.dataset(corpus_dir / "corpus", format="parquet").to_table().slice(0, 300)
    with SearchIndex.create(tmp_path / "idx", "none") as idx:
        idx.add(table)
        hits = idx.search("the OR a OR to", mode="lexical", limit=15)
    eng = Engine.load(run_dir, device="cpu", dtype="fp32", threads=1)
    try:
        one = rerank(eng, "the launch", hits, top_n=10, weight=1.0)
        two = rerank(eng, "the launch", hits, top_n=10, weight=1.0)
        pmi = rerank(eng, "the launch", hits, top_n=10, method="pmi")
    finally:
        eng.shutdown()
    assert sorted(r.hit.id for r in one) == sorted(h.id for h in hits)
    assert [r.hit.id for r in one] == [r.hit.id for r in two]  # deterministic
    scores = [r.model_score for r in one[:10]]
    assert all(math.isfinite(s) and s < 0 for s in scores) and scores == sorted(scores, reverse=True)
    assert all(math.isfinite(r.model_score) for r in pmi[:10])


def test_cli_rerank(run_dir, corpus_dir, tmp_path, capsys):
    idx = tmp_path / "idx"
    assert main(["index", str(corpus_dir), "--embedder", "none", "--out", str(idx), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["search", "--index", str(idx), "the OR a", "--mode", "lexical", "--rerank", "8", "--model",
                 str(run_dir), "--limit", "5", "--json", "--no-log"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["hits"]) == 5 and out["rerank"] == {"top_n": 8, "weight": 0.5, "method": "query_likelihood"}
    assert all({"first_stage_rank", "first_stage_score", "model_score"} <= set(h) for h in out["hits"])
    assert [h["score"] for h in out["hits"]] == sorted((h["score"] for h in out["hits"]), reverse=True)
    assert main(["search", "--index", str(idx), "the", "--rerank", "5", "--mode", "lexical"]) == 2
    assert "needs a Warble model" in capsys.readouterr().err
    assert main(["search", "--index", str(idx), "the", "--rerank", "5", "--rerank-weight", "2"]) == 2
    assert "--rerank-weight" in capsys.readouterr().err
