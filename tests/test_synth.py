"""warble synth: determinism, counts, format validity, planted faults and the engagement ground truth."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from warble.data.schema import MAX_TEXT_CHARS, validate_post
from warble.data.synth import SynthConfig, synthesize
from warble.data.synth.engagement import expected_engagement
from warble.data.synth.langs import MODULES
from warble.errors import ConfigError

N = 20_000
CJK = "\u3040-\u30ff\u3400-\u9fff\uff00-\uffef"


@pytest.fixture(scope="module")
def v2(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("v2")
    synthesize(out, N, seed=7, shards=3, progress=False)
    return out


@pytest.fixture(scope="module")
def corpus(v2) -> dict:
    """Everything in the v2 run: tweets by id (with their file), users, raw lines, ground truth."""
    malformed = [json.loads(x) for x in (v2 / "_truth" / "malformed.jsonl").read_text().splitlines()]
    broken = {(m["file"], m["line"]) for m in malformed}
    tweets, users, lines = {}, {}, {}
    for path in sorted(v2.glob("part-*.jsonl")):
        lines[path.name] = path.read_bytes().split(b"\n")[:-1]
        for number, raw in enumerate(lines[path.name], 1):
            if (path.name, number) in broken:
                continue
            resp = json.loads(raw)
            users.update({u["id"]: u for u in resp["includes"]["users"]})
            tweets.update({t["id"]: {**t, "_file": path.name} for t in resp["data"]})
    truth = pq.read_table(v2 / "_truth" / "posts.parquet").to_pylist()
    summary = json.loads((v2 / "_truth" / "summary.json").read_text())
    return {"tweets": tweets, "users": users, "lines": lines, "truth": truth, "malformed": malformed,
            "summary": summary}


def files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def v2_to_post(t: dict, users: dict) -> dict:
    """A minimal v2 -> canonical mapping (the real reader lives in warble.data.readers)."""
    refs = {r["type"]: r["id"] for r in t.get("referenced_tweets", [])}
    ents, m = t.get("entities", {}), t["public_metrics"]
    author = users[t["author_id"]]
    return {
        "id": t["id"], "author_id": t["author_id"], "author_handle": author["username"],
        "created_at": t["created_at"], "text": t["text"], "lang": t["lang"], "conversation_id": t["conversation_id"],
        "reply_to_id": refs.get("replied_to"), "quote_of_id": refs.get("quoted"), "repost_of_id": refs.get("retweeted"),
        "hashtags": [h["tag"] for h in ents.get("hashtags", [])],
        "mentions": [x["username"] for x in ents.get("mentions", [])],
        "urls": [u["expanded_url"] for u in ents.get("urls", [])],
        "like_count": m["like_count"], "repost_count": m["retweet_count"], "reply_count": m["reply_count"],
        "quote_count": m["quote_count"], "view_count": m["impression_count"],
        "author_followers": author["public_metrics"]["followers_count"], "source": t["source"], "origin": "synth",
    }


def shingles(text: str) -> set:
    tokens = re.findall(f"[{CJK}]|[^\\s{CJK}]+", text)
    return {tuple(tokens[i : i + 3]) for i in range(max(1, len(tokens) - 2))}


def test_same_output_whatever_the_workers(v2, tmp_path):
    synthesize(tmp_path, N, seed=7, shards=3, workers=2, progress=False)
    assert files(tmp_path) == files(v2)


def test_repeat_run_is_byte_identical_and_seed_matters(tmp_path):
    a, b, c = (tmp_path / x for x in "abc")
    synthesize(a, 1500, seed=1, fmt="warble", progress=False)
    synthesize(b, 1500, seed=1, fmt="warble", progress=False)
    synthesize(c, 1500, seed=2, fmt="warble", progress=False)
    assert files(a) == files(b)
    assert files(a)["part-00000.jsonl"] != files(c)["part-00000.jsonl"]


def test_summary_matches_files(corpus):
    s, lines = corpus["summary"], corpus["lines"]
    assert s["posts"] == N == len(corpus["tweets"]) == len(corpus["truth"])
    assert s["files"] == sorted(lines)
    assert s["lines"] == sum(len(v) for v in lines.values())
    assert s["malformed_records"] == len(corpus["malformed"]) == sum(s["malformed"].values())
    assert s["malformed_records"] == pytest.approx(0.002 * N, abs=3)  # rates are rounded per shard
    assert s["records"] == N + s["malformed_records"]
    assert sum(s["kinds"].values()) == N
    assert s["kinds"] == dict(Counter(r["kind"] for r in corpus["truth"]))
    assert s["kinds"]["spam"] == pytest.approx(0.02 * N, abs=3)
    assert s["kinds"]["exact_dup"] == pytest.approx(0.03 * N, abs=3)
    assert s["posts_with_pii"] == sum(bool(r["pii"]) for r in corpus["truth"])
    written = sum(bool(r["pii"]) for r in corpus["truth"] if r["kind"] in ("original", "reply"))
    assert written == pytest.approx(0.02 * N, abs=3)  # the rest are copies of those
    assert {r["id"] for r in corpus["truth"]} == set(corpus["tweets"])


def test_responses_look_like_api_v2(corpus):
    broken = {m["line"] for m in corpus["malformed"] if m["file"] == "part-00001.jsonl"}
    for number, raw in enumerate(corpus["lines"]["part-00001.jsonl"][:60], 1):
        if number in broken:
            continue
        resp = json.loads(raw)
        data = resp["data"]
        assert resp["meta"]["result_count"] == len(data) <= 100
        assert resp["meta"]["newest_id"] == data[0]["id"] and resp["meta"]["oldest_id"] == data[-1]["id"]
        included = {u["id"] for u in resp["includes"]["users"]}
        for t in data:
            assert t["author_id"] in included
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", t["created_at"])
            for h in t.get("entities", {}).get("hashtags", []):
                assert t["text"][h["start"] : h["end"]] == "#" + h["tag"]
            for m in t.get("entities", {}).get("mentions", []):
                assert t["text"][m["start"] : m["end"]].lower() == "@" + m["username"].lower()
                assert m["id"] in included
            for u in t.get("entities", {}).get("urls", []):
                assert t["text"][u["start"] : u["end"]] == u["url"] and u["url"].startswith("https://t.co/")


def test_every_tweet_is_a_valid_post(corpus):
    users = corpus["users"]
    for t in corpus["tweets"].values():
        post = validate_post(v2_to_post(t, users))
        assert post["text"] == t["text"]


def test_ids_are_snowflakes_growing_with_time(corpus):
    truth = sorted(corpus["truth"], key=lambda r: int(r["id"]))
    times = [r["created_at"] for r in truth]
    assert times == sorted(times)
    assert times[0].isoformat() >= "2025-07-01" and times[-1].isoformat() < "2026-07-01"
    malformed_ids = {m["id"] for m in corpus["malformed"]}
    assert not malformed_ids & set(corpus["tweets"])


def test_malformed_lines_are_malformed(corpus):
    for m in corpus["malformed"]:
        raw = corpus["lines"][m["file"]][m["line"] - 1]
        if m["kind"] == "bad_utf8":
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            continue
        if m["kind"] == "not_json":
            with pytest.raises(ValueError):
                json.loads(raw)
            continue
        (tweet,) = json.loads(raw)["data"]
        if m["kind"] == "missing_id":
            assert "id" not in tweet
        elif m["kind"] == "missing_text":
            assert "text" not in tweet
        elif m["kind"] == "wrong_type":
            assert not isinstance(tweet["text"], str)
        else:
            assert m["kind"] == "too_long" and len(tweet["text"]) > MAX_TEXT_CHARS
    assert {m["kind"] for m in corpus["malformed"]} == set(corpus["summary"]["malformed"]) and \
        len(corpus["summary"]["malformed"]) == 6


def test_languages_in_expected_proportions(corpus):
    truth = [r for r in corpus["truth"] if r["lang"] != "und"]
    share = Counter(r["lang"] for r in truth)
    total = sum(MODULES[c].WEIGHT for c in MODULES)
    for code, m in MODULES.items():
        assert share[code] / len(truth) == pytest.approx(m.WEIGHT / total, abs=0.015), code


def test_language_id_agrees_with_truth(corpus):
    langid = pytest.importorskip("py3langid")
    by_id = corpus["tweets"]
    hits, seen = Counter(), Counter()
    for r in corpus["truth"]:
        if r["kind"] != "original" or seen[r["lang"]] >= 60 or r["lang"] == "und":
            continue
        text = re.sub(r"[@#]\w+|https://\S+", "", by_id[r["id"]]["text"])
        if len(text) < 40:
            continue
        seen[r["lang"]] += 1
        hits[r["lang"]] += langid.classify(text)[0] == r["lang"]
    assert set(seen) == set(MODULES)
    for code in MODULES:
        assert hits[code] / seen[code] >= 0.75, (code, hits[code], seen[code])


def test_replies_point_to_parents_in_the_same_conversation(corpus):
    tweets = corpus["tweets"]
    replies = [t for t in tweets.values() if "in_reply_to_user_id" in t]
    assert len(replies) > 0.15 * N
    for t in replies:
        parent_id = t["referenced_tweets"][0]["id"]
        parent = tweets[parent_id]
        assert parent["_file"] == t["_file"] and int(parent_id) < int(t["id"])
        assert t["conversation_id"] == parent["conversation_id"]
        assert t["in_reply_to_user_id"] == parent["author_id"]
        assert t["text"].startswith("@" + corpus["users"][parent["author_id"]]["username"] + " ")
        assert t["lang"] in (parent["lang"], "und") or parent["lang"] == "und"


def test_copies_copy_their_original(corpus):
    tweets = corpus["tweets"]
    kinds = Counter()
    for r in corpus["truth"]:
        if r["kind"] not in ("retweet", "exact_dup", "near_dup"):
            continue
        kinds[r["kind"]] += 1
        mine, original = tweets[r["id"]]["text"], tweets[r["duplicate_of"]]["text"]
        assert tweets[r["id"]]["author_id"] != tweets[r["duplicate_of"]]["author_id"]
        if r["kind"] == "exact_dup":
            assert mine == original
        elif r["kind"] == "retweet":
            assert mine.startswith("RT @") and mine.endswith(": " + original)
        else:
            a, b = shingles(mine), shingles(original)
            assert 0.5 <= len(a & b) / len(a | b) < 1, (mine, original)
    assert min(kinds.values()) > 0.01 * N


def test_text_is_varied(corpus):
    texts = [corpus["tweets"][r["id"]]["text"] for r in corpus["truth"] if r["kind"] in ("original", "reply", "quote")]
    assert len(set(texts)) / len(texts) > 0.9
    words = Counter(w for t in texts for w in t.split())
    assert len(words) > 20_000


def test_planted_personal_data_is_in_the_text_and_valid(corpus):
    planted = [(r, k, v) for r in corpus["truth"] for k, v in zip(r["pii"], r["pii_values"])]
    assert len({k for _, k, _ in planted}) >= 12
    phonenumbers = pytest.importorskip("phonenumbers")
    valid = Counter()
    for r, kind, value in planted:
        assert value in corpus["tweets"][r["id"]]["text"]
        if kind == "credit_card":
            digits = [int(d) for d in re.sub(r"\D", "", value)][::-1]
            assert sum(d if i % 2 == 0 else (2 * d - 9 if d > 4 else 2 * d) for i, d in enumerate(digits)) % 10 == 0
        elif kind == "iban":
            s = value.replace(" ", "")
            assert int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1
        elif kind.startswith("phone_"):
            region = {"uk": "GB"}.get(kind[6:], kind[6:].upper())
            valid[kind] += phonenumbers.is_valid_number(phonenumbers.parse(value, region))
    phones = sum(1 for _, k, _ in planted if k.startswith("phone_"))
    assert sum(valid.values()) >= 0.97 * phones


def test_engagement_follows_the_known_function(corpus):
    base = dict(topic_popularity=1.0, media=False, link=False, question=False, emoji=0, hashtags=0, chars=100,
                local_hour=20, age_hours=100, reply=False)
    e = expected_engagement(followers=np.array([0, 10, 100, 1000, 10**6]), **base)
    for key in ("impressions", "like", "repost", "reply", "quote"):
        assert np.all(np.diff(e[key]) > 0), key
    truth = corpus["truth"]
    for action, metric in (("impressions", "impression_count"), ("like", "like_count")):
        observed = sum(corpus["tweets"][r["id"]]["public_metrics"][metric] for r in truth)
        assert observed == pytest.approx(sum(r[f"exp_{action}"] for r in truth), rel=0.05)
    big = [r for r in truth if r["followers"] > 5000]
    small = [r for r in truth if r["followers"] < 50]
    assert np.mean([r["exp_like"] for r in big]) > 10 * np.mean([r["exp_like"] for r in small])


def test_warble_format_rows_validate(tmp_path):
    summary = synthesize(tmp_path, 3000, seed=3, fmt="warble", progress=False)
    good = bad = 0
    for raw in (tmp_path / "part-00000.jsonl").read_bytes().split(b"\n")[:-1]:
        try:
            row = json.loads(raw)
            post = validate_post(row)
        except Exception:
            bad += 1
            continue
        good += 1
        assert post["origin"] == "synth" and post["created_at"] is not None
    assert (good, bad) == (3000, summary["malformed_records"]) and bad == 6
    users = [json.loads(x) for x in (tmp_path / "_truth" / "users.jsonl").read_text().splitlines()]
    assert len(users) == summary["users"] and sum(u["is_bot"] for u in users) == summary["bots"]


def test_langs_period_and_config_errors(tmp_path):
    summary = synthesize(tmp_path, 500, langs=["ja", "ko"], start="2024-01-01", end="2024-01-31", progress=False)
    assert set(summary["langs"]) <= {"ja", "ko", "und"}
    ts = pq.read_table(tmp_path / "_truth" / "posts.parquet").column("created_at").to_pylist()
    assert min(ts).isoformat() >= "2024-01-01" and max(ts).isoformat() < "2024-02-01"
    for bad in ({"fmt": "csv"}, {"spam_rate": 2}, {"langs": ["xx"]}, {"end": "2020-01-01"}, {"bogus": 1}):
        with pytest.raises(ConfigError):
            synthesize(tmp_path, 10, progress=False, **bad)
    assert SynthConfig(posts=120_000).n_shards == 3
