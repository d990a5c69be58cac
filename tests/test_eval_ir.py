"""Retrieval metrics against hand-computed values, and the TREC/TSV readers on good and malformed files."""

import math

import pytest

from warble.errors import InputError
from warble.eval.ir import average_precision, evaluate, ndcg, read_qrels, read_tsv, recall, reciprocal_rank


def test_average_precision_by_hand():
    rel = {"a": 1, "c": 1, "x": 1}  # R = 3, one of them never retrieved
    # ranks 1 (a) and 3 (c) relevant: (1/1 + 2/3) / 3
    assert average_precision(["a", "b", "c", "d", "e"], rel, 5) == pytest.approx((1 + 2 / 3) / 3)
    assert average_precision(["b", "b2", "b3", "b4", "b5", "a"], rel, 5) == 0.0  # relevant only at rank 6
    assert average_precision(["a"], {"a": 1}, 5) == 1.0
    assert average_precision(["z", "a"], {"a": 1}, 5) == 0.5
    assert average_precision([], {"a": 1}, 5) == 0.0


def test_reciprocal_rank_recall_by_hand():
    assert reciprocal_rank(["x", "y", "a"], {"a": 1}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"], {"a": 1}) == 0.0
    assert reciprocal_rank(["x", "a"], {"x": 0, "a": 2}) == 0.5  # relevance 0 is not relevant
    assert recall(["a", "x", "b"], {"a": 1, "b": 1, "c": 1, "d": 1}, 2) == 0.25
    assert recall(["a", "x", "b"], {"a": 1, "b": 1, "c": 1, "d": 1}, 100) == 0.5


def test_ndcg_by_hand():
    rel = {"a": 2, "b": 1}
    dcg = (2 ** 1 - 1) / math.log2(2) + 0 + (2 ** 2 - 1) / math.log2(4)  # b at 1, x at 2, a at 3
    idcg = (2 ** 2 - 1) / math.log2(2) + (2 ** 1 - 1) / math.log2(3)
    assert ndcg(["b", "x", "a"], rel, 10) == pytest.approx(dcg / idcg)
    assert ndcg(["a", "b"], rel, 10) == pytest.approx(1.0)
    assert ndcg(["b", "x", "a"], rel, 2) == pytest.approx(1 / idcg)  # a falls outside the cut


def test_evaluate_means_and_counts():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}  # q3 has no relevant document
    run = {"q1": ["a", "x"], "q2": ["x", "y", "b"]}
    out = evaluate(run, qrels)
    assert out["queries"] == 2 and out["queries_without_relevant"] == 1 and out["queries_without_results"] == 0
    assert out["map@5"] == pytest.approx((1 + 1 / 3) / 2)
    assert out["mrr"] == pytest.approx((1 + 1 / 3) / 2)
    assert out["recall@100"] == 1.0
    assert evaluate({}, qrels)["map@5"] == 0.0 and evaluate({}, qrels)["queries_without_results"] == 2
    with pytest.raises(InputError, match="no relevant"):
        evaluate(run, {"q": {"a": 0}})


def test_readers(tmp_path):
    q = tmp_path / "q.qrels"
    q.write_text("0\t0\t784\t1\n11 0 639 1\n\n")
    assert read_qrels(q) == {"0": {"784": 1}, "11": {"639": 1}}
    (tmp_path / "bad.qrels").write_text("0 0 784\n")
    with pytest.raises(InputError, match="bad.qrels:1"):
        read_qrels(tmp_path / "bad.qrels")
    (tmp_path / "bad2.qrels").write_text("0 0 784 yes\n")
    with pytest.raises(InputError, match="integer"):
        read_qrels(tmp_path / "bad2.qrels")
    with pytest.raises(InputError, match="no such file"):
        read_qrels(tmp_path / "none")
    d = tmp_path / "docs.tsv"
    d.write_text('\tvclaim\ttitle\n0\tA claim.\tIts title\n1\t"quoted, ""text"""\t\n')
    assert read_tsv(d) == [("0", "A claim.. Its title"), ("1", 'quoted, "text"')]
    (tmp_path / "one.tsv").write_text("id\ttext\n7\n")
    with pytest.raises(InputError, match="one.tsv:2"):
        read_tsv(tmp_path / "one.tsv")
    (tmp_path / "latin.tsv").write_bytes("0\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="UTF-8"):
        read_tsv(tmp_path / "latin.tsv")


def test_readers_on_the_clef_files(shared):
    docs = read_tsv(shared / "clef2020_claims" / "verified_claims.docs.tsv")
    queries = read_tsv(shared / "clef2020_claims" / "dev" / "tweets.queries.tsv")
    qrels = read_qrels(shared / "clef2020_claims" / "dev" / "tweet-vclaim-pairs.qrels")
    assert len(docs) == 10375 and len(queries) == 197
    ids = {d for d, _ in docs}
    assert all(doc in ids for rels in qrels.values() for doc in rels)
    assert {q for q, _ in queries} >= set(qrels)
