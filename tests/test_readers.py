"""Readers: every format on real-format fixtures, compression, task planning, quarantine, and the shared data."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest

import fixtures_readers as fx
from warble.data.readers import FORMATS, Quarantined, ReadTask, detect_format, expand_inputs, plan_tasks, read_task
from warble.data.schema import MAX_RECORD_BYTES, validate_post
from warble.errors import InputError


def read_all(path: Path, fmt: str | None = None, target_bytes: int = 64 << 20) -> tuple[list[dict], list[Quarantined]]:
    """Every post and quarantine record of a file, through the public API; every post must validate."""
    posts, bad = [], []
    for task in plan_tasks(path, fmt or detect_format(path), target_bytes):
        for item in read_task(task):
            if isinstance(item, Quarantined):
                bad.append(item)
            else:
                validate_post(item)
                posts.append(item)
    return posts, bad


def by_id(posts: list[dict]) -> dict[str, dict]:
    return {str(p["id"]): p for p in posts}


def public(post: dict) -> dict:
    return {k: v for k, v in post.items() if not k.startswith("_") and k != "origin"}


# --- twitter_v2 ---------------------------------------------------------------------------------------------


def test_twitter_v2_maps_responses(tmp_path):
    posts, bad = read_all(fx.write_jsonl(tmp_path / "search.jsonl", fx.v2_sample()))
    assert bad == []
    assert sorted(by_id(posts)) == ["1001", "1002", "1003", "1004"]  # the errors-only page yields nothing
    long_post, reply, repost, single = (by_id(posts)[i] for i in ("1001", "1002", "1003", "1004"))
    assert long_post["text"] == fx.LONG_TEXT and long_post["hashtags"] == ["long"]
    assert long_post["author_handle"] == "alice" and long_post["author_followers"] == 1500
    assert (long_post["like_count"], long_post["repost_count"], long_post["reply_count"]) == (5, 2, 1)
    assert (long_post["quote_count"], long_post["view_count"]) == (0, 300)
    assert long_post["origin"] == "twitter_v2:search.jsonl" and long_post["_line"] == 1
    assert reply["reply_to_id"] == "1001" and reply["quote_of_id"] == "900" and reply["conversation_id"] == "1001"
    assert reply["mentions"] == ["alice"] and reply["hashtags"] == ["news"]
    assert reply["urls"] == ["https://example.com/a", "https://t.co/x2"]
    assert repost["repost_of_id"] == "800" and repost["text"].startswith("RT @bob")
    assert single["author_handle"] == "carol" and single["_line"] == 3
    assert validate_post(long_post)["created_at"].isoformat() == "2023-05-01T12:00:00+00:00"


def test_twitter_v2_quarantines_only_the_malformed_tweet(tmp_path):
    good = fx.v2_tweet("1", "11", "fine")
    bad_metrics = fx.v2_tweet("2", "11", "metrics are a list", public_metrics=[1, 2])
    response = fx.v2_response([good, "not a tweet", bad_metrics], [("11", "alice", 1)])
    posts, bad = read_all(fx.write_jsonl(tmp_path / "r.jsonl", [response]), "twitter_v2")
    assert [p["id"] for p in posts] == ["1"]
    assert [(q.reason, q.line) for q in bad] == [("wrong_type", 1), ("wrong_type", 1)]


def test_twitter_v2_pretty_document_and_bare_tweets(tmp_path):
    document = fx.write_json(tmp_path / "page.json", fx.v2_sample()[0], indent=2)
    assert detect_format(document) == "twitter_v2"
    posts, bad = read_all(document)
    assert bad == [] and sorted(by_id(posts)) == ["1001", "1002", "1003"]
    # twarc2 flatten: one tweet a line, its author inline
    flat = fx.v2_tweet(
        "7", "11", "flattened", author={"id": "11", "username": "alice", "public_metrics": {"followers_count": 9}}
    )
    path = fx.write_jsonl(tmp_path / "flat.jsonl", [flat])
    assert detect_format(path) == "twitter_v2"
    (post,), bad = read_all(path)
    assert bad == [] and (post["author_handle"], post["author_followers"]) == ("alice", 9)


# --- twitter_v1 and X archives ------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["jsonl", "array"])
def test_twitter_v1_maps_tweets(tmp_path, layout):
    tweets = fx.v1_sample()
    path = (
        fx.write_jsonl(tmp_path / "t.jsonl", tweets)
        if layout == "jsonl"
        else fx.write_json(tmp_path / "t.json", tweets)
    )
    assert detect_format(path) == "twitter_v1"
    posts, bad = read_all(path)
    assert bad == []
    original, retweet, reply, streamed = (by_id(posts)[i] for i in ("500", "501", "502", "503"))
    assert original == {
        "id": "500",
        "author_id": "22467092",
        "author_handle": "sauterne",
        "author_followers": 876,
        "created_at": "Mon Nov 24 10:41:05 +0000 2014",
        "text": "Full text of #art by @muse https://t.co/a",
        "lang": "en",
        "reply_to_id": None,
        "quote_of_id": None,
        "repost_of_id": None,
        "hashtags": ["art"],
        "mentions": ["muse"],
        "urls": ["https://art.example/x"],
        "like_count": 4,
        "repost_count": 1,
        "reply_count": None,
        "quote_count": None,
        "source": '<a href="http://www.hootsuite.com" rel="nofollow">Hootsuite</a>',  # stripped by validate_post
        "origin": f"twitter_v1:{path.name}",
        "_line": 1 if layout == "jsonl" else None,
        "_offset": 0 if layout == "jsonl" else None,
    }
    assert retweet["repost_of_id"] == "500" and retweet["text"].startswith("RT @sauterne")
    assert (reply["reply_to_id"], reply["quote_of_id"], reply["reply_count"]) == ("500", "400", 2)
    assert streamed["text"] == "Cut at 140 chars? No: the whole text." and streamed["hashtags"] == ["whole"]


def test_twitter_v1_broken_array_stops_cleanly(tmp_path):
    text = json.dumps(fx.v1_sample()[:2])
    path = tmp_path / "broken.json"
    path.write_text(text[: text.index('"id_str": "501"')] + '"id_str": "5', encoding="utf-8")  # cut mid-item
    posts, bad = read_all(path, "twitter_v1")
    assert [p["id"] for p in posts] == ["500"]
    assert len(bad) == 1 and bad[0].reason == "bad_json" and "after array item 1" in bad[0].detail


@pytest.mark.parametrize("account", [True, False])
def test_x_archive(tmp_path, account):
    path = fx.write_archive(tmp_path / "twitter-2024-01-01-abc", fx.v1_sample()[:3], account=account)
    assert detect_format(path) == "x_archive"
    posts, bad = read_all(path)
    assert bad == [] and len(posts) == 3
    expected = ("777", "archivist") if account else ("archive:twitter-2024-01-01-abc", None)
    assert {(p["author_id"], p["author_handle"]) for p in posts} == {expected}
    original = by_id(posts)["500"]
    assert (original["like_count"], original["repost_count"]) == ("4", "1")  # archives write counts as strings
    assert validate_post(original)["like_count"] == 4 and original["origin"] == "x_archive:tweets.js"
    assert expand_inputs([str(tmp_path)]) == [path]  # account.js and like.js hold no posts
    with pytest.raises(InputError, match="not an X archive tweets file"):
        detect_format(path.with_name("like.js"))


# --- warble, csv, parquet, text -----------------------------------------------------------------------------


def test_warble_jsonl_passes_fields_through(tmp_path):
    record = {
        "id": "w1",
        "author_id": "a1",
        "text": "hello",
        "created_at": "2024-02-03T04:05:06+00:00",
        "hashtags": ["x"],
        "labels": {"topic": "news"},
        "origin": "elsewhere:file",
        "score": 0.9,
    }
    path = fx.write_jsonl(tmp_path / "corpus.jsonl", [record])
    assert detect_format(path) == "warble"
    (post,), bad = read_all(path)
    assert bad == [] and "score" not in post and post["labels"] == {"topic": "news"}
    assert post["origin"] == "warble:corpus.jsonl"


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_csv_aliases_multiline_fields_and_bad_rows(tmp_path, suffix):
    path = fx.write_csv(tmp_path / f"posts{suffix}")
    assert detect_format(path) == "csv"
    posts, bad = read_all(path)
    assert [p["id"] for p in posts] == ["1", "2", "4"]
    first, second, last = posts
    assert first["text"] == "first line\nsecond line, with a comma" and first["author_handle"] == "ann"
    assert (first["_line"], second["_line"], last["_line"]) == (2, 4, 6)
    assert (first["like_count"], first["repost_count"], first["hashtags"]) == ("3", "1", "a b")
    assert second["text"] == 'she said "hi"' and second["hashtags"] == ["x", "y"]
    assert "like_count" not in last  # empty cells are absent, not ""
    assert [(q.reason, q.line) for q in bad] == [("bad_csv", 5)]


def test_csv_without_required_column_is_an_input_error(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("id,claim\n1,the moon is cheese\n", encoding="utf-8")
    with pytest.raises(InputError, match="author_id, text"):
        read_all(path)


def test_parquet_by_row_group(tmp_path):
    path = fx.write_parquet(tmp_path / "posts.parquet", rows=100, row_group_size=10)
    assert detect_format(path) == "parquet"
    tasks = plan_tasks(path, "parquet", target_bytes=1)
    assert [(t.start, t.end) for t in tasks] == [(i, i + 1) for i in range(10)]
    posts, bad = read_all(path, target_bytes=1)
    assert bad == [] and [p["id"] for p in posts] == [str(i) for i in range(100)]
    assert posts[42]["labels"] == {"topic": "x"} and posts[42]["_line"] == 43 and "extra_column" not in posts[42]
    assert len(plan_tasks(path, "parquet")) == 1


def test_text_with_labels_mapping_and_empty_lines(tmp_path):
    path = fx.write_tweeteval(tmp_path)
    assert detect_format(path) == "text"
    posts, bad = read_all(path)
    assert [p["text"] for p in posts] == ["love this @user ", "so funny", "we won "]
    assert [p["labels"] for p in posts] == [
        {"tweeteval.emoji": "❤"},
        {"tweeteval.emoji": "😂"},
        {"tweeteval.emoji": "❤"},
    ]
    assert [p["_line"] for p in posts] == [1, 2, 4] and [(q.reason, q.line) for q in bad] == [("empty_text", 3)]
    prefix = posts[0]["id"].split("-")[0]
    assert len(prefix) == 9 and [p["id"] for p in posts] == [f"{prefix}-{n}" for n in (1, 2, 4)]
    assert {p["author_id"] for p in posts} == {"unknown"} and posts[0]["origin"] == "text:train_text.txt"
    assert expand_inputs([str(tmp_path)]) == [path]  # labels and mapping are sidecars
    other = tmp_path / "elsewhere" / "train_text.txt"  # same name, other folder, no labels
    other.parent.mkdir()
    other.write_text("love this @user \n", encoding="utf-8")
    (copy,), _ = read_all(other)
    assert copy["id"] != posts[0]["id"] and "labels" not in copy
    path.with_name("train_labels.txt").write_text("0\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"has 1 lines but train_text\.txt has 4"):
        read_all(path)


# --- compression, detection, inputs, planning ---------------------------------------------------------------


def _fixtures(tmp_path: Path) -> dict[str, Path]:
    return {
        "twitter_v2": fx.write_jsonl(tmp_path / "v2.jsonl", fx.v2_sample()),
        "twitter_v1": fx.write_json(tmp_path / "v1.json", fx.v1_sample()),
        "x_archive": fx.write_archive(tmp_path / "archive", fx.v1_sample()),
        "warble": fx.write_jsonl(tmp_path / "w.jsonl", [{"id": "1", "author_id": "2", "text": "hi"}]),
        "csv": fx.write_csv(tmp_path / "posts.csv"),
        "text": fx.write_tweeteval(tmp_path),
    }


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_compressed_inputs_read_like_plain_ones(tmp_path, kind):
    for fmt, plain in _fixtures(tmp_path).items():
        packed = fx.compress(plain, kind)
        assert detect_format(packed) == fmt
        assert len(plan_tasks(packed, fmt, target_bytes=64)) == 1  # a compressed stream is one task
        expected, expected_bad = read_all(plain)
        got, got_bad = read_all(packed)
        if fmt != "text":  # text ids hash the name without its compression suffix, so they match too
            assert {p["origin"] for p in got} == {f"{fmt}:{packed.name}"}
        assert [public(p) for p in got] == [public(p) for p in expected]
        assert [q.reason for q in got_bad] == [q.reason for q in expected_bad]


def test_misnamed_compressed_file_is_found_by_magic_bytes(tmp_path):
    path = tmp_path / "looks_plain.jsonl"
    path.write_bytes(gzip.compress(b'{"id": "1", "author_id": "2", "text": "hi"}\n'))
    assert detect_format(path) == "warble" and len(read_all(path)[0]) == 1


def test_detect_format_each_fixture_and_failures(tmp_path):
    for fmt, path in _fixtures(tmp_path).items():
        assert detect_format(path) == fmt
    assert detect_format(fx.write_parquet(tmp_path / "p.parquet", 3, 3)) == "parquet"
    assert set(FORMATS) == {"twitter_v2", "twitter_v1", "x_archive", "warble", "csv", "parquet", "text"}
    assert detect_format(fx.write_json(tmp_path / "empty.json", [])) == "twitter_v1"
    with pytest.raises(InputError, match="unknown JSON format"):
        detect_format(fx.write_jsonl(tmp_path / "topics.jsonl", [{"id": 1, "text": "no author", "topics": []}]))
    junk = tmp_path / "junk.jsonl"
    junk.write_text("{oops\n")
    with pytest.raises(InputError, match="no valid JSON"):
        detect_format(junk)
    with pytest.raises(InputError, match="does not exist"):
        detect_format(tmp_path / "missing.jsonl")


def test_expand_inputs(tmp_path):
    for name in [
        "b/2.jsonl",
        "b/1.jsonl.gz",
        "a.csv",
        ".hidden/x.jsonl",
        "_tmp/y.jsonl",
        "b/.z.jsonl",
        "b/_SUCCESS",
        "README.md",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}\n")
    found = expand_inputs([str(tmp_path), str(tmp_path / "a.csv")])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.csv", "b/1.jsonl.gz", "b/2.jsonl"]
    assert expand_inputs([str(tmp_path / "README.md")]) == [tmp_path / "README.md"]  # named files are kept
    with pytest.raises(InputError, match="does not exist"):
        expand_inputs([str(tmp_path / "nope")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no input files"):
        expand_inputs([str(tmp_path / "empty")])


@pytest.mark.parametrize("target_bytes", [97, 1000, 4096])
def test_plan_tasks_ranges_read_every_line_once(tmp_path, target_bytes):
    records = [{"id": str(i), "author_id": "a", "text": "x" * (i % 50 + 1)} for i in range(500)]
    path = fx.write_jsonl(tmp_path / "w.jsonl", records)
    tasks = plan_tasks(path, "warble", target_bytes)
    assert len(tasks) == -(-path.stat().st_size // target_bytes) > 1
    assert tasks[0].start == 0 and tasks[-1].end == path.stat().st_size
    assert all(a.end == b.start for a, b in itertools.pairwise(tasks))
    assert plan_tasks(path, "warble", target_bytes) == tasks  # deterministic
    ids = [item["id"] for task in tasks for item in read_task(task)]
    assert ids == [str(i) for i in range(500)]
    offsets = {item["id"]: item["_offset"] for task in tasks for item in read_task(task)}
    raw = path.read_bytes()
    assert all(raw[offsets[str(i)] :].startswith(b'{"id": "%d"' % i) for i in range(500))
    assert plan_tasks(fx.write_json(tmp_path / "a.json", records), "warble", target_bytes) == [
        ReadTask(str(tmp_path / "a.json"), "warble")
    ]  # an array is one task


# --- quarantine -------------------------------------------------------------------------------------------


def test_bad_lines_are_quarantined_and_reading_goes_on(tmp_path):
    good = b'{"id": "%d", "author_id": "a", "text": "ok"}\n'
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        good % 1
        + b'{"id": "2", "author_id": \n'  # bad JSON
        + b'{"id": "3", "author_id": "a", "text": "caf\xe9"}\n'  # Latin-1 byte, not UTF-8
        + b'{"text": "'
        + b"y" * MAX_RECORD_BYTES
        + b'"}\n'  # too long
        + b"[1, 2]\n"  # not an object
        + b"   \n"  # blank: no record
        + good % 7
    )
    posts, bad = read_all(path, "warble")
    assert [p["id"] for p in posts] == ["1", "7"] and [p["_line"] for p in posts] == [1, 7]
    assert [(q.reason, q.line) for q in bad] == [("bad_json", 2), ("bad_utf8", 3), ("too_large", 4), ("wrong_type", 5)]
    assert bad[0].raw == '{"id": "2", "author_id": ' and len(bad[2].raw) == 2000
    assert bad[1].offset == len(good % 1) + len(b'{"id": "2", "author_id": \n')


def test_text_bad_utf8_and_truncated_gzip(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_bytes(b"fine\nbad \xff byte\nalso fine\n")
    posts, bad = read_all(path)
    assert [p["text"] for p in posts] == ["fine", "also fine"] and [(q.reason, q.line) for q in bad] == [
        ("bad_utf8", 2)
    ]
    records = [{"id": str(i), "author_id": "a", "text": f"post {i} " * 20} for i in range(2000)]
    packed = fx.compress(fx.write_jsonl(tmp_path / "w.jsonl", records), "gz")
    packed.write_bytes(packed.read_bytes()[:-100])
    posts, bad = read_all(packed)
    assert 0 < len(posts) < 2000 and [q.reason for q in bad][-1] == "bad_compression"


# --- the shared real data -----------------------------------------------------------------------------------


def test_pheme_reads_cleanly(shared):  # `shared` (conftest.py): ../shared/data or WARBLE_SHARED_DATA, else skip
    files = sorted((shared / "pheme").glob("*.json"))
    total = 0
    for path in files:
        assert detect_format(path) == "twitter_v1"
        posts, bad = read_all(path)
        assert bad == [], path.name
        total += len(posts)
        if path.name == "gurlitt-all-rnr-threads.rumours.json":
            post = by_id(posts)["536831867329466369"]
            assert (post["author_id"], post["author_handle"], post["author_followers"]) == ("22467092", "sauterne", 876)
            assert (post["like_count"], post["repost_count"]) == (0, 1)
            assert validate_post(post)["source"] == "Hootsuite"
            assert post["text"].startswith("Schäublin agreement in accepting Gurlitt collection")
    assert len(files) == 11 and total == 3112


def test_tweeteval_emoji_reads_with_labels(shared):
    path = shared / "tweeteval" / "emoji" / "train_text.txt"
    posts, bad = read_all(path)
    lines = path.read_bytes().count(b"\n")
    assert len(posts) + sum(q.reason == "empty_text" for q in bad) == lines == 45000 and len(bad) == 0
    labels = path.with_name("train_labels.txt").read_text().split()
    mapping = dict(line.split("\t")[:2] for line in path.with_name("mapping.txt").read_text().splitlines())
    assert [p["labels"]["tweeteval.emoji"] for p in posts[:100]] == [mapping[label] for label in labels[:100]]
    found = expand_inputs([str(shared / "tweeteval")])
    assert found and all(p.name.endswith("_text.txt") for p in found)
