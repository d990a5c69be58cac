"""Ad copy: constraint-respecting decoding, the checks (facts, links, memorization, brand safety), MMR ranking, the
`warble ads generate` command and POST /v1/ads/generate. The fixture model is tiny: its text is poor, so these
tests assert the machinery (limits, banned and required words, refusals, ranks, JSON), not the quality."""

import json
import random
import re

import numpy as np
import pytest

from warble.ads import checks as ck
from warble.ads.brief import Brief
from warble.ads.constraints import (
    bad_words_ids,
    find_words,
    fit_to_limit,
    insert_required,
    missing_words,
    token_budget,
    variants,
)
from warble.ads.copy import finish, generate_ads, generate_candidates, openings
from warble.ads.ranking import engagement_contrast, mmr

BRIEF = {"product": "Trailrunner 2 shoes", "brand": "Acme", "facts": ["weighs 220 g", "ships free in the EU"],
         "call_to_action": "Order today", "url": "https://acme.example/tr2", "topic": "fitness", "lang": "en",
         "must_include": ["Trailrunner"], "must_avoid": ["cheap"]}


@pytest.fixture(scope="module")
def engine(run_dir):
    from warble.serve.engine import Engine

    e = Engine.load(run_dir, device="cpu", dtype="fp32", threads=1)
    yield e
    e.shutdown()


@pytest.fixture(scope="module")
def guard(run_dir):
    from warble.data.ngrams import NgramIndex

    return NgramIndex.for_run(run_dir, n=8)


@pytest.fixture(scope="module")
def training_post(tokens_dir):
    """A real training post of the fixture run, long enough for the n-gram test (8+ words)."""
    from warble.tokenizer.canaries import iter_train_texts

    return next(t for t in iter_train_texts(tokens_dir) if len(t.split()) >= 10 and "@user" not in t)


# ------------------------------------------------------------------------------------------------ constraints
def test_fit_to_limit_never_cuts_a_word():
    rng = random.Random(0)
    vocab = ["run", "trail", "shoes!", "light.", "Acme", "über", "fast,", "x", "a-very-long-hyphenated-word", "🏃"]
    for _ in range(300):
        words = [rng.choice(vocab) for _ in range(rng.randint(1, 40))]
        text, limit = " ".join(words), rng.randint(5, 120)
        out = fit_to_limit(text, limit)
        assert len(out) <= limit
        assert text.startswith(out.rstrip(",;:-")) or out == ""
        kept = out.split()
        assert all(w.rstrip(",;:-") in {v.rstrip(",;:-") for v in vocab} for w in kept)  # whole words only
    assert fit_to_limit("Fast shoes. Light and strong for every trail", 30) == "Fast shoes. Light and strong"
    assert fit_to_limit("Fast and light shoes. More text here", 25) == "Fast and light shoes."
    assert fit_to_limit("supercalifragilistic", 5) == ""
    assert fit_to_limit("  spaced   out  ", 50) == "spaced out"


def test_words_match_whole_and_case_insensitively():
    assert find_words("So CHEAP!", ["cheap"]) == ["cheap"]
    assert find_words("the cheapest one", ["cheap"]) == []
    assert find_words("free  shipping today", ["free shipping"]) == ["free shipping"]
    assert missing_words("Trailrunner rocks", ["trailrunner", "Acme"]) == ["Acme"]
    assert set(variants("Cheap")) >= {"cheap", " cheap", "Cheap", " CHEAP"}


def test_insert_required_respects_the_limit():
    out = insert_required("a long post about running on trails every day", ["Trailrunner"], 30)
    assert out.startswith("Trailrunner: ") and len(out) <= 30
    assert insert_required("x", ["averyveryverylongword"], 10) is None


def test_token_budget_reaches_the_limit():
    assert token_budget(257, "en") == 257 and token_budget(100, "ja") >= 290


def test_bad_words_ids_cover_every_variant(engine):
    tok = engine.tokenizer
    seqs = bad_words_ids(tok, ["cheap"])
    decoded = {tok.decode(s) for s in seqs}
    assert {"cheap", " cheap", "Cheap", " Cheap", "CHEAP", " CHEAP"} <= decoded


# ------------------------------------------------------------------------------------------------ decoding
def _contains_seq(ids, seq):
    return any(ids[i:i + len(seq)] == seq for i in range(len(ids) - len(seq) + 1))


def test_banned_words_never_decoded(engine):
    """Frequent words banned through bad_words_ids never come out as their banned token sequences; without the ban
    the same seeds do produce them (so the test can fail)."""
    from warble.ads.copy import engine_supports_bad_words
    from warble.serve.types import SamplingParams

    if not engine_supports_bad_words():
        pytest.skip("the engine has no SamplingParams.bad_words_ids yet")
    tok = engine.tokenizer
    words = ["the", "a", "is", "to", "i"]
    banned = bad_words_ids(tok, words)
    prompts = ["Nothing beats", "Fun fact:", "Shoutout to", "today"] * 4

    def run(extra):
        params = [SamplingParams(max_tokens=40, temperature=1.0, seed=s, **extra) for s in range(len(prompts))]
        return engine.generate(prompts, params)

    free = run({})
    assert any(find_words(c.text, words) for c in free)
    for c in run({"bad_words_ids": banned}):
        assert not any(_contains_seq(c.token_ids, s) for s in banned)
    # Other tokenizations of a banned word can still be sampled: the check after decoding rejects those.
    brief = Brief.from_dict({"product": "Acme", "must_avoid": words})
    out = generate_ads(engine, brief, 4, oversample=3, seed=5)
    assert out["candidates"] and not any(find_words(c["text"], words) for c in out["candidates"])
    assert all("banned" in r["failed"] for r in out["rejected"] if find_words(r["text"], words))


def test_conditions_use_the_control_tokens(engine):
    from warble.ads.copy import conditions_for

    tok = engine.tokenizer
    cond = conditions_for(Brief.from_dict({"product": "x", "topic": "Fitness", "lang": "es"}), tok)
    assert cond == {"lang": "es", "reply": False, "engagement": 100, "topic": "Fitness"}
    assert tok.control_ids(**cond)[-2:] == tok.control_ids(engagement=100, topic="fitness")
    assert "topic" not in conditions_for(Brief.from_dict({"product": "x", "topic": "trail running"}), tok)


def test_candidates_keep_limit_and_required_words(engine):
    brief = Brief.from_dict({**BRIEF, "max_chars": 60, "must_include": ["Trailrunner", "Zorblax"]})
    assert all("Zorblax" in o for o in openings(brief))  # prompted in
    cands, info = generate_candidates(engine, brief, 12, seed=3)
    assert cands and info["drawn"] == 12
    for c in cands:
        assert 0 < len(c.text) <= brief.char_limit == 60
        assert not missing_words(c.text, brief.must_include)
        assert c.text.endswith("Order today")
        assert "http" not in c.text.split() and "@user" not in c.text


def test_finish_repairs_or_drops():
    brief = Brief.from_dict({"product": "Widget", "must_include": ["Zorblax"], "max_chars": 40})
    text, repaired = finish(brief, "Widget", " is the best thing I have bought all year honestly")
    assert repaired == ["Zorblax"] and text.startswith("Zorblax: ") and len(text) <= 40
    tight = Brief.from_dict({"product": "Widget", "must_include": ["abcdefghijklmnopqr"], "max_chars": 20,
                             "call_to_action": "Buy"})
    assert finish(tight, "Widget", " yes") is None  # the word and the call to action cannot both fit


# ------------------------------------------------------------------------------------------------ checks
def test_fact_check():
    b = Brief.from_dict({**BRIEF, "facts": ["weighs 220 g", "ships free in the EU", "no added sugar",
                                            "costs $129.99", "20% off until June"]})
    ok = ["Trailrunner 2 weighs 220 g and ships free!", "Only $129.99 and 20% off", "No added sugar here."]
    for t in ok:
        assert ck.fact_conflicts(t, b) == [], t
    bad = {"Now 30% off": "30%", "Weighs 220 kg": "220 kg", "It does not ship free in the EU": "negates",
           "Loaded with added sugar": "drops the negation", "Only $99": "$99", "ready at 3am": "'3'"}
    for t, why in bad.items():
        problems = ck.fact_conflicts(t, b)
        assert problems and why in problems[0], (t, problems)
    assert ck.check_facts("Trailrunner 2 is here", b).passed  # the product's own number is the brief's


def test_link_and_length_checks():
    b = Brief.from_dict(BRIEF)
    assert ck.check_links("Run more", b).passed
    for t in ["see www.other.example", "go to shop.example now", "link in bio http", "https://evil.example/x"]:
        assert ck.check_links(t, b).passed is False, t
    assert b.char_limit == 256 and Brief.from_dict({"product": "x"}).char_limit == 280
    assert ck.check_length("x" * 256, b).passed and not ck.check_length("x" * 257, b).passed
    assert not ck.check_length("", b).passed


def test_memorization_guard_refuses_a_planted_training_post(guard, training_post):
    b = Brief.from_dict(BRIEF)
    novel = "Trailrunner 2 shoes by Acme weigh 220 g: zorblax quindle framistan glorp."
    out = ck.run_checks([training_post, novel, training_post.upper() + "!!"], b, guard=guard)
    mem = [next(c for c in cs if c.name == "memorization") for cs in out]
    assert mem[0].passed is False and "copies a training post" in mem[0].detail
    assert mem[1].passed is True
    assert mem[2].passed is False  # case and punctuation do not hide a copy
    # The model's part alone is checked too: an ad that wraps a training post in the brief's words is refused.
    wrapped = ck.check_memorization(f"Trailrunner 2 shoes: {training_post}", guard, continuation=training_post)
    assert wrapped.passed is False


def test_planted_post_is_rejected_by_the_pipeline(engine, guard, training_post, monkeypatch, tmp_path):
    from warble.ads import copy as copy_mod
    from warble.ads.copy import Candidate
    from warble.ads.drafts import DraftStore

    brief = Brief.from_dict({"product": "Acme", "facts": [], "must_include": []})
    real = copy_mod.generate_candidates

    def planted(engine, brief, count, **kw):
        cands, info = real(engine, brief, count, **kw)
        text = fit_to_limit(training_post, brief.char_limit)
        return [Candidate(text, "", text, 0, 0.0, "stop")] + cands, info

    monkeypatch.setattr(copy_mod, "generate_candidates", planted)
    store = DraftStore.open(tmp_path / "drafts")
    out = generate_ads(engine, brief, 3, oversample=2, guard=guard, store=store)
    refused = [r for r in out["rejected"] if r["text"] == fit_to_limit(training_post, brief.char_limit)]
    assert refused and "memorization" in refused[0]["failed"]
    assert all(c["text"] != refused[0]["text"] for c in out["candidates"])
    assert store.get(refused[0]["id"]).status == "rejected"


def test_brand_safety_check_uses_the_checker():
    safety = pytest.importorskip("warble.ads.safety")
    checker = safety.SafetyChecker.load(keywords=["zorblax"])
    b = Brief.from_dict({"product": "Acme"})
    out = ck.run_checks(["Acme is great", "Acme zorblax deal"], b, safety=checker)
    verdict = [next(c for c in cs if c.name == "brand_safety") for cs in out]
    assert verdict[0].passed is True and verdict[1].passed is False
    skipped = ck.run_checks(["Acme"], b, skipped={"brand_safety": "no module"})[0]
    assert next(c for c in skipped if c.name == "brand_safety").passed is None
    assert ck.blocking_failures(skipped) == []


# ------------------------------------------------------------------------------------------------ ranking
def test_mmr_matches_hand_computation():
    rel = np.array([1.0, 0.9, 0.5, 0.0])  # scaled: 1, 0.9, 0.5, 0
    v = np.array([[1.0, 0.0], [0.995, 0.0998749], [0.0, 1.0], [0.6, 0.8]])
    order = mmr(rel, v, lam=0.5)
    # step 1: argmax 0.5*rel -> 0. step 2: 1: .45-.5*.995=-.0475; 2: .25-0=.25; 3: 0-.5*.6=-.3 -> 2.
    # step 3: 1: .45-.5*max(.995,.0999)=-.0475; 3: 0-.5*max(.6,.8)=-.4 -> 1. then 3.
    assert [o["index"] for o in order] == [0, 2, 1, 3]
    assert order[1]["mmr"] == pytest.approx(0.25) and order[2]["mmr"] == pytest.approx(-0.0475)
    assert order[2]["most_like"] == 0
    assert [o["index"] for o in mmr(rel, v, lam=1.0)] == [0, 1, 2, 3]  # lam = 1: engagement order
    assert [o["index"] for o in mmr(np.zeros(3), np.eye(3), 0.7)] == [0, 1, 2]  # ties keep order
    with pytest.raises(ValueError):
        mmr(rel, v, lam=1.5)


def test_engagement_contrast_is_a_likelihood_ratio(engine):
    texts = ["what a goal tonight", "so tired of this"]
    cond = {"lang": "en", "reply": False}
    c = engagement_contrast(engine, texts, cond)
    hi = engine.generate(texts, __import__("warble.serve.types", fromlist=["x"]).SamplingParams(
        max_tokens=0, echo=True, logprobs=0, conditions={**cond, "engagement": 100}))
    n = 1 + len(engine.tokenizer.control_ids(**cond, engagement=100))
    assert len(hi[0].logprobs) - n == len(engine.tokenizer.encode(texts[0]))  # only the text's tokens count
    assert c.shape == (2,) and np.all(np.isfinite(c))


def test_ranking_by_an_engagement_model(engine):
    """With an engagement model, relevance is its expected engagements per impression (summed over kinds); the
    posts it sees carry the link as the corpus does."""
    from warble.ads.ranking import rank_candidates

    seen = []

    class Model:  # the EngagementModel interface: predict(posts) -> {kind: probabilities}
        def predict(self, posts):
            seen.extend(posts)
            return {"like": np.array([0.1, 0.5, 0.3]), "repost": np.array([0.05, 0.0, 0.4])}

    texts = ["first post here", "second one", "third and last"]
    ranked = rank_candidates(engine, texts, Brief.from_dict(BRIEF), {"lang": "en"}, engagement=Model(), lam=1.0)
    assert [r["index"] for r in ranked] == [2, 1, 0]  # 0.7 > 0.5 > 0.15
    assert ranked[0]["score"] == pytest.approx(0.7) and ranked[0]["parts"]["p_like"] == pytest.approx(0.3)
    assert "contrast_nats" in ranked[0]["parts"] and "engagement model" in ranked[0]["reasons"][0]
    assert seen[0]["text"] == "first post here http" and seen[0]["urls"] == [BRIEF["url"]]


# ------------------------------------------------------------------------------------------------ pipeline + CLI
def _check_output(out, n):
    assert set(out) >= {"brief", "candidates", "rejected", "seconds", "drafts"}
    assert 0 < len(out["candidates"]) <= n
    assert [c["rank"] for c in out["candidates"]] == list(range(1, len(out["candidates"]) + 1))
    names = ["length", "required", "banned", "brand_safety", "facts", "memorization", "links"]
    for c in out["candidates"]:
        assert set(c) >= {"id", "text", "chars", "rank", "score", "reasons", "checks", "status"}
        assert [x["name"] for x in c["checks"]] == names and ck.blocking_failures(c["checks"]) == []
        assert c["chars"] == len(c["text"]) <= Brief.from_dict(out["brief"]).char_limit
        assert not find_words(c["text"], out["brief"]["must_avoid"])
        assert not missing_words(c["text"], out["brief"]["must_include"])
        assert any("predicted engagement" in r for r in c["reasons"]) and any("MMR" in r for r in c["reasons"])
    for r in out["rejected"]:
        assert r["failed"] and r["reasons"] and r["status"] in (None, "rejected")


def test_cli_generate_end_to_end(run_dir, tmp_path, capsys):
    from warble.ads.drafts import DraftStore
    from warble.cli import main

    brief = tmp_path / "brief.json"
    brief.write_text(json.dumps(BRIEF))
    drafts = tmp_path / "drafts"
    args = ["ads", "generate", "--model", str(run_dir), "--brief", str(brief), "--n", "4", "--json",
            "--drafts", str(drafts), "--no-progress", "--threads", "1", "--by", "tester"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    _check_output(out, 4)
    assert out["drafts"] == str(drafts / "drafts.sqlite")
    store = DraftStore.open(drafts)
    saved = {d.id: d for d in store.list()}
    assert {c["id"] for c in out["candidates"] + out["rejected"]} == set(saved)
    assert all(saved[c["id"]].status == "draft" for c in out["candidates"])
    assert store.audit(out["candidates"][0]["id"])[0]["actor"] == "tester"

    assert main(["ads", "generate", "--model", str(run_dir), "--brief", str(brief), "--n", "2", "--no-drafts",
                 "--no-progress", "--threads", "1"]) == 0  # the human-readable summary
    text = capsys.readouterr().out
    assert "#1 [" in text and "predicted engagement" in text


@pytest.mark.parametrize("brief, extra, message", [
    ({"brand": "Acme"}, [], "product"),
    (None, [], "brief not found"),
    ("{not json", [], "not valid JSON"),
    ({"product": "x"}, ["--n", "0"], "--n"),
    ({"product": "x"}, ["--lambda", "2"], "--lambda"),
    ({"product": "x"}, ["--model", "/nonexistent/run"], "no run directory"),
])
def test_cli_generate_errors(run_dir, tmp_path, capsys, brief, extra, message):
    from warble.cli import main

    path = tmp_path / "brief.json"
    if brief is not None:
        path.write_text(brief if isinstance(brief, str) else json.dumps(brief))
    code = main(["ads", "generate", "--model", str(run_dir), "--brief", str(path), "--no-drafts", "--json",
                 "--no-progress", *extra])
    captured = capsys.readouterr()
    assert code == 2 and message in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


# ------------------------------------------------------------------------------------------------ HTTP
@pytest.fixture(scope="module")
def client(engine, guard, tmp_path_factory):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from warble.serve.app import install_error_handlers
    from warble.serve.routes.ads_generate import make_router

    app = FastAPI()
    app.state.engine = engine
    app.state.ads = {"engagement": None, "safety": None, "guard": guard,
                     "drafts": tmp_path_factory.mktemp("srv") / "drafts"}
    install_error_handlers(app)
    app.include_router(make_router())
    with TestClient(app) as c:
        yield c


def test_http_generate(client):
    r = client.post("/v1/ads/generate", json={"brief": BRIEF, "n": 3, "oversample": 2, "lambda": 0.5})
    assert r.status_code == 200, r.text
    out = r.json()
    _check_output(out, 3)
    assert out["drafts"].endswith("drafts.sqlite") and out["generation"]["lambda"] == 0.5
    assert any("brand_safety not run" in n for n in out["notes"])


@pytest.mark.parametrize("body, param, words", [
    ({"brief": {"brand": "Acme"}}, "product", "product"),
    ({"brief": {"product": " "}}, "product", "product"),
    ({"brief": {"product": "x", "url": "nope"}}, "url", "url"),
    ({"brief": {"product": "x"}, "n": 0}, "n", "n"),
    ({"brief": {"product": "x"}, "n": 1000}, "n", "n"),
    ({"brief": {"product": "x"}, "n": "8"}, "n", "n"),
    ({"brief": {"product": "x"}, "lambda": 1.5}, "lambda", "lambda"),
    ({"brief": {"product": "x"}, "temperature": 2}, "temperature", "unknown parameter"),
    ({"brief": "buy shoes"}, "brief", "JSON object"),
    ({"n": 8}, "brief", "required"),
])
def test_http_bad_requests(client, body, param, words):
    r = client.post("/v1/ads/generate", json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param and words in err["message"]
    assert client.post("/v1/ads/generate", content=b"{oops", headers={"content-type": "application/json"}
                       ).status_code == 400


def test_no_numbers_invented_in_passing_candidates(engine, guard):
    """Every accepted candidate's numbers are the brief's (the fact check gates the pipeline)."""
    out = generate_ads(engine, Brief.from_dict(BRIEF), 4, oversample=3, seed=11, guard=guard)
    b = Brief.from_dict(BRIEF)
    for c in out["candidates"]:
        assert ck.fact_conflicts(c["text"], b) == []
        assert not re.search(r"(?<!\w)https?(?!\w)", c["text"])
