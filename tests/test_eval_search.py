"""`warble eval search` end to end on a tiny judged collection: metrics as computed by hand, every mode, the CLI's
JSON, and clear errors for malformed inputs."""

import json

import pytest

from warble.errors import InputError
from warble.eval.search_eval import eval_search, text_query
from warble.search import ast

DOCS = [("d1", "the launch of the new rocket was delayed by weather", "Rocket launch delayed"),
        ("d2", "a recipe for lemon cake with fresh berries", "Lemon cake"),
        ("d3", "the football match ended in a draw after extra time", "Match drawn"),
        ("d4", "weather forecast: rain and wind all weekend", "Rainy weekend")]
QUERIES = [("q1", "Why was the #rocket launch delayed?"), ("q2", "best lemon cake recipe @baker"),
           ("q3", "did the match end in a draw"), ("q4", "!!! ???")]
QRELS = "q1 0 d1 1\nq2 0 d2 1\nq3 0 d3 1\nq3 0 d4 0\n"


@pytest.fixture
def collection(tmp_path):
    d, q, r = tmp_path / "docs.tsv", tmp_path / "queries.tsv", tmp_path / "q.qrels"
    d.write_text("\tvclaim\ttitle\n" + "".join(f"{i}\t{a}\t{b}\n" for i, a, b in DOCS))
    q.write_text("\ttweet_content\n" + "".join(f"{i}\t{t}\n" for i, t in QUERIES))
    r.write_text(QRELS)
    return d, q, r


def test_text_query_ors_distinct_words():
    assert text_query("Why was the #rocket launch-delayed? the") == ast.Or(tuple(
        ast.Term(w) for w in ("Why", "was", "the", "rocket", "launch", "delayed")))
    assert text_query("hello") == ast.Term("hello")
    assert text_query("!!! ???") is None


def test_lexical_eval_scores_the_obvious_run(collection):
    out = eval_search(*collection, mode="lexical", progress=False)
    # every judged query finds its document first: all metrics 1
    assert out["map@5"] == out["mrr"] == out["ndcg@10"] == out["recall@100"] == 1.0
    assert out["queries"] == 3 and out["queries_run"] == 4 and out["docs"] == 4 and out["embedder"] == "none"


def test_dense_and_hybrid_run(collection, run_dir):
    for mode in ("dense", "hybrid"):
        out = eval_search(*collection, mode=mode, embedder="warble", model=run_dir, progress=False)
        assert out["mode"] == mode and out["queries"] == 3
        assert 0 <= out["map@5"] <= 1 and out["recall@100"] == 1.0  # 4 documents: all retrieved within 100


def test_cli_json(collection, capsys):
    from warble.cli import main

    d, q, r = collection
    assert main(["eval", "search", "--docs", str(d), "--queries", str(q), "--qrels", str(r), "--mode", "lexical",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"map@5", "mrr", "ndcg@10", "recall@100"} <= set(out) and out["map@5"] == 1.0


def test_bad_inputs(collection, tmp_path, capsys):
    from warble.cli import main

    d, q, r = collection
    bad = tmp_path / "bad.qrels"
    bad.write_text("q1 0 nope 1\n")
    with pytest.raises(InputError, match="not in"):
        eval_search(d, q, bad, mode="lexical", progress=False)
    with pytest.raises(InputError, match="--mode"):
        eval_search(d, q, r, mode="fuzzy", progress=False)
    dup = tmp_path / "dup.tsv"
    dup.write_text("d1\ta\nd1\tb\n")
    with pytest.raises(InputError, match="repeat"):
        eval_search(dup, q, r, mode="lexical", progress=False)
    assert main(["eval", "search", "--docs", str(tmp_path / "none.tsv"), "--queries", str(q), "--qrels", str(r),
                 "--mode", "lexical"]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "Traceback" not in err
