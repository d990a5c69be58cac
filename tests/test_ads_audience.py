"""Audience targeting: communities learned from a small index, brief matching, lookalikes, compliance, CLI, HTTP.

Quality is measured against the simulator's ground truth (_truth/ beside the synthetic dump: every post's true topic
and every user's interests) on a 6,000-post English corpus: the session's 2,000-post corpus has about one post per
author (13 authors with 3+ posts), too few to learn anyone's interests from. The CLI and HTTP tests use the session
corpus indexed with the session model's embeddings."""

import json
import math
import shutil
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest

from warble.ads.audience import TargetOptions, evaluate, lookalike, resolve_seeds, target
from warble.ads.brief import Brief
from warble.ads.communities import LearnOptions, load_or_learn, read_live_posts, text_terms
from warble.errors import InputError
from warble.search.index import SearchIndex

K = 24
FOOTBALL = {"product": "Rivermouth FC season ticket", "audience": "football fans", "topic": "football",
            "must_include": ["derby", "matchday"]}


@pytest.fixture(scope="module")
def aud_index(corpus_dir, run_dir, tmp_path_factory):
    """The small corpus indexed with the small model's embeddings."""
    from warble.search.index.build import index_corpus

    out = tmp_path_factory.mktemp("aud") / "idx"
    index_corpus(str(corpus_dir), out, model=str(run_dir), progress=False)
    return out


@pytest.fixture(scope="module")
def dense(tmp_path_factory):
    """(raw dump dir, lexical-only index dir) of a 6,000-post English synthetic corpus (~20 s)."""
    from warble.data.pipeline import IngestConfig, run_ingest
    from warble.data.synth import synthesize
    from warble.search.index.build import index_corpus

    root = tmp_path_factory.mktemp("aud_dense")
    synthesize(root / "raw", 6000, seed=3, langs=("en",), malformed_rate=0, progress=False)
    run_ingest([str(root / "raw")], root / "corpus", IngestConfig(workers=1), progress=False, log=lambda *a: None)
    index_corpus(str(root / "corpus"), root / "idx", embedder="none", progress=False)
    return root / "raw", root / "idx"


@pytest.fixture(scope="module")
def learned(dense):
    with SearchIndex.open(dense[1], readonly=True) as idx:
        comms, cached = load_or_learn(idx, LearnOptions(k=K))
        posts = read_live_posts(idx)
    assert not cached
    return comms, posts


@pytest.fixture(scope="module")
def post_topic(dense):
    t = pq.read_table(dense[0] / "_truth" / "posts.parquet", columns=["id", "topic"])
    return dict(zip(t.column("id").to_pylist(), t.column("topic").to_pylist()))


def _purity(labels: list[int], topics: list[str]) -> float:
    """Share of posts whose true topic is their community's most common one."""
    by: dict[int, Counter] = {}
    for c, t in zip(labels, topics):
        by.setdefault(c, Counter())[t] += 1
    return sum(cnt.most_common(1)[0][1] for cnt in by.values()) / len(topics)


def test_text_terms_drop_noise_and_split_cjk():
    assert text_terms("@user Loved the derby!! #football https://t.co/x <email> the and") == ["loved", "derby"]
    assert text_terms("東京タワー") == ["東京", "京タ", "タワ", "ワー"]


def test_profile_defaults_follow_the_embedder():
    from types import SimpleNamespace

    from warble.ads.communities import profile_defaults

    assert profile_defaults(SimpleNamespace(spec={"kind": "minilm"})) == {"term_weight": 0.5, "similarity": "embedding"}
    assert profile_defaults(SimpleNamespace(spec={"kind": "warble"}))["similarity"] == "terms"
    assert profile_defaults(SimpleNamespace(spec={"kind": "none"}))["term_weight"] == 1.0


def test_communities_align_with_true_topics(learned, post_topic):
    comms, posts = learned
    assert comms.k == K and comms.membership.shape == (len(comms.authors), K)
    assert ((comms.membership > 0).sum(axis=1) <= 3).all()  # sparse memberships
    primary = comms.membership.argmax(axis=1)
    keep = [i for i, pid in enumerate(posts.ids) if post_topic.get(pid) and comms.membership[posts.author[i]].any()]
    labels = [int(primary[posts.author[i]]) for i in keep]
    topics = [post_topic[posts.ids[i]] for i in keep]
    purity = _purity(labels, topics)
    chance = np.mean([_purity(list(np.random.default_rng(s).permutation(labels)), topics) for s in range(5)])
    assert purity > chance + 0.1, (purity, chance)
    for c in comms.communities:
        assert {"id", "size_authors", "top_hashtags", "top_terms", "examples"} <= set(c)
    assert sum(c["size_authors"] for c in comms.communities) == int((comms.membership.max(axis=1) > 0).sum())


def test_topical_brief_picks_a_community_about_it(learned, post_topic):
    comms, posts = learned
    out = target(comms, brief=Brief.from_dict(FOOTBALL), opts=TargetOptions(top=1, alpha=0.0))
    [best] = out["communities"]
    members = set(np.flatnonzero(comms.membership.argmax(axis=1) == best["id"]))
    topics = [post_topic.get(pid) for pid, a in zip(posts.ids, posts.author) if a in members]
    share = topics.count("football") / len(topics)
    base = list(post_topic.values()).count("football") / len(post_topic)
    assert share > 2 * base, (share, base)
    assert out["estimated_reach"]["authors"] <= out["estimated_reach"]["audience_authors"]
    assert best["reach_authors"] <= best["members"] and best["reach_posts"] >= best["reach_authors"]


def test_brief_targeting_and_lookalikes_beat_random_on_truth(learned, dense):
    comms, posts = learned
    result = evaluate(comms, posts, dense[0] / "_truth", ks=(20,), n_seeds=5)
    s = result["summary"]
    assert result["topics"] >= 10
    assert s["brief"]["p@20"] > s["random"] + 0.1, s
    assert s["brief"]["p@20"] > s["keyword_baseline"]["p@20"], s  # communities generalise past literal words
    assert s["lookalike_terms"]["p@20"] > s["random"] + 0.05, s


def test_lookalike_dial_and_seeds(learned):
    comms, _ = learned
    seeds = resolve_seeds(comms, ["@" + comms.handles[0].upper(), comms.authors[1]])
    assert seeds == [0, 1]
    wide, _ = lookalike(comms, seeds, reach=0.5)
    narrow, sims = lookalike(comms, seeds, reach=0.05)
    assert len(narrow) < len(wide) and 0 not in set(wide) and 1 not in set(wide)
    assert list(wide[:len(narrow)]) == list(narrow) and np.all(np.diff(sims) <= 1e-6)
    close, csims = lookalike(comms, seeds, reach=1.0, min_similarity=0.3)
    assert (csims >= 0.3).all() and len(close) < len(comms.authors) - 2
    with pytest.raises(InputError, match="@nobody_here"):
        resolve_seeds(comms, ["@nobody_here"])


def test_opted_out_authors_and_deleted_posts_never_appear(dense, learned, tmp_path):
    comms, posts = learned
    counts = Counter(posts.author.tolist())
    gone_author = comms.authors[counts.most_common(1)[0][0]]  # the most active author opts out
    example_ids = [e["id"] for c in comms.communities for e in c["examples"]]
    gone_post = next(p for p in example_ids if posts.authors[posts.author[posts.ids.index(p)]] != gone_author)
    copy = tmp_path / "idx"
    shutil.copytree(dense[1], copy)
    with SearchIndex.open(copy) as idx:
        idx.apply_compliance(opt_out_authors=[gone_author], deleted_posts=[gone_post])
    with SearchIndex.open(copy, readonly=True) as idx:
        after, cached = load_or_learn(idx, LearnOptions(k=K))
        live = read_live_posts(idx)
    assert not cached  # the index changed: relearned, not the stale cache
    assert gone_author not in after.authors and gone_post not in live.ids
    assert gone_author not in {live.authors[a] for a in live.author}
    assert gone_post not in {e["id"] for c in after.communities for e in c["examples"]}
    with pytest.raises(InputError, match="not in the index"):
        resolve_seeds(after, [gone_author])
    seeds = [a for a in after.authors[:3]]
    out = target(after, seeds=seeds, opts=TargetOptions(reach=1.0, limit=100_000))
    assert gone_author not in {x["author_id"] for x in out["lookalike"]}
    assert len(out["lookalike"]) == len(after.authors) - 3


def _cli_json(capsys, *args) -> dict:
    from warble.cli import main

    assert main(["ads", "audience", *args, "--json", "--no-progress"]) == 0
    return json.loads(capsys.readouterr().out)


def _some_authors(index_dir, n: int = 2) -> list[tuple[str, str]]:
    with SearchIndex.open(index_dir, readonly=True) as idx:
        posts = read_live_posts(idx)
    return list(zip(posts.authors, posts.handles))[:n]


def test_cli_end_to_end(aud_index, run_dir, tmp_path, capsys):
    (a0, h0), (a1, _) = _some_authors(aud_index)
    brief = tmp_path / "brief.json"
    brief.write_text(json.dumps(FOOTBALL))
    out = _cli_json(capsys, "--model", str(run_dir), "--index", str(aud_index), "--brief", str(brief),
                    "--communities", "8", "--seeds", f"@{h0},{a1}", "--limit", "5")
    assert {"brief", "communities", "hashtags", "keywords", "estimated_reach", "lookalike", "seconds"} <= set(out)
    assert not out["learned"]["cached"] and out["brief"]["product"] == FOOTBALL["product"]
    assert out["learned"]["k"] == 8 and out["communities"][0]["embedding_score"] != 0  # the model embedded the brief
    c = out["communities"][0]
    assert {"id", "score", "size_authors", "reach_authors", "reach_posts", "top_hashtags", "top_terms",
            "examples"} <= set(c)
    assert len(out["lookalike"]) == 5 and {"author_id", "handle", "similarity"} <= set(out["lookalike"][0])
    assert {"authors", "posts", "days", "since", "until", "lookalike"} <= set(out["estimated_reach"])
    assert a0 not in {x["author_id"] for x in out["lookalike"]}  # seeds are not their own lookalikes
    again = _cli_json(capsys, "--index", str(aud_index), "--seeds", a0, "--communities", "8", "--reach", "0.01")
    assert again["learned"]["cached"] and "communities" not in again  # seeds only; the cache is reused
    assert again["estimated_reach"]["lookalike"]["authors_total"] == math.ceil(0.01 * again["learned"]["authors"])


def test_cli_errors(aud_index, tmp_path, capsys):
    from warble.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"brand": "Acme"}))
    cases = [(["--index", str(aud_index)], "give --brief"),
             (["--index", str(aud_index), "--brief", str(bad)], "product"),
             (["--index", str(tmp_path / "nope"), "--seeds", "@x"], "not a Warble search index"),
             (["--index", str(aud_index), "--seeds", "@nobody_here", "--communities", "8"], "@nobody_here"),
             (["--index", str(aud_index), "--seeds", "@x", "--reach", "2"], "reach"),
             (["--index", str(aud_index), "--seeds", "@x", "--now", "yesterday"], "--now"),
             (["--index", str(aud_index), "--seeds", "@x", "--term-weight", "1.5"], "--term-weight")]
    for args, msg in cases:
        assert main(["ads", "audience", *args, "--no-progress"]) == 2, args
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err, (args, err)


def test_http_route(aud_index, run_dir):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from warble.serve.app import install_error_handlers
    from warble.serve.routes.ads_audience import make_router

    (a0, _), = _some_authors(aud_index, 1)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(make_router())
    app.state.index = SearchIndex.open(aud_index, readonly=True, model=run_dir)
    client = TestClient(app)
    try:
        r = client.post("/v1/ads/audience", json={"brief": FOOTBALL, "communities": 8,
                                                  "seeds": [a0], "limit": 3})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["communities"] and len(body["lookalike"]) == 3 and body["estimated_reach"]["authors"] >= 0
        bad = [({"brief": {"brand": "Acme"}}, "product"),
               ({"brief": {"product": "x", "colour": "red"}}, "colour"),
               ({}, "brief"),
               ({"brief": FOOTBALL, "reach": 3}, "reach"),
               ({"brief": FOOTBALL, "similarity": "vibes"}, "similarity"),
               ({"brief": FOOTBALL, "wat": 1}, "wat"),
               ({"seeds": ["@nobody_here"], "communities": 8}, "@nobody_here")]
        for payload, word in bad:
            r = client.post("/v1/ads/audience", json=payload)
            assert r.status_code == 400, (payload, r.status_code, r.text)
            assert word in json.dumps(r.json()["error"]), (payload, r.json())
        r = client.post("/v1/ads/audience", json={"brief": {"brand": "Acme"}})
        assert r.json()["error"]["param"] == "product"
        app.state.index.close()
        app.state.index = None
        assert client.post("/v1/ads/audience", json={"brief": FOOTBALL}).status_code == 404
    finally:
        if app.state.index is not None:
            app.state.index.close()
