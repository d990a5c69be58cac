"""Builders for reader test inputs in each real source format (written under pytest's tmp_path, never committed)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

LONG_TEXT = "A long post that goes on. " * 20  # over 280 characters: only note_tweet holds all of it


def v2_tweet(tid: str, author_id: str, text: str, **extra) -> dict:
    return {
        "id": tid,
        "author_id": author_id,
        "text": text,
        "created_at": "2023-05-01T12:00:00.000Z",
        "lang": "en",
        "conversation_id": tid,
        "edit_history_tweet_ids": [tid],
        "public_metrics": {
            "like_count": 5,
            "retweet_count": 2,
            "reply_count": 1,
            "quote_count": 0,
            "impression_count": 300,
        },
        "source": "Twitter Web App",
        **extra,
    }


def v2_response(tweets: list | dict, users: list[tuple[str, str, int]]) -> dict:
    """A search/timeline response (a lookup by id has one tweet object as data); users: (id, username, followers)."""
    return {
        "data": tweets,
        "includes": {
            "users": [
                {"id": uid, "username": name, "name": name.title(), "public_metrics": {"followers_count": followers}}
                for uid, name, followers in users
            ]
        },
        "meta": {"result_count": len(tweets) if isinstance(tweets, list) else 1},
    }


def v2_sample() -> list[dict]:
    """Three API responses: long post + reply + retweet, an errors-only page, and a single-object `data`."""
    long_post = v2_tweet(
        "1001",
        "11",
        LONG_TEXT[:277] + "...",
        note_tweet={"text": LONG_TEXT, "entities": {"hashtags": [{"start": 0, "end": 5, "tag": "long"}]}},
        entities={"hashtags": [{"start": 0, "end": 4, "tag": "cut"}]},
    )
    reply = v2_tweet(
        "1002",
        "12",
        "@alice I agree #news https://t.co/x1",
        conversation_id="1001",
        referenced_tweets=[{"type": "replied_to", "id": "1001"}, {"type": "quoted", "id": "900"}],
        entities={
            "hashtags": [{"start": 15, "end": 20, "tag": "news"}],
            "mentions": [{"start": 0, "end": 6, "username": "alice", "id": "11"}],
            "urls": [
                {"start": 21, "end": 36, "url": "https://t.co/x1", "expanded_url": "https://example.com/a"},
                {"start": 37, "end": 50, "url": "https://t.co/x2"},
            ],
        },
    )
    repost = v2_tweet("1003", "11", "RT @bob: original words", referenced_tweets=[{"type": "retweeted", "id": "800"}])
    errors_only = {"errors": [{"title": "Not Found Error", "detail": "Could not find tweet with ids: [5]."}]}
    single = v2_response(v2_tweet("1004", "13", "just one"), [("13", "carol", 7)])
    users = [("11", "alice", 1500), ("12", "bob", 30)]
    return [v2_response([long_post, reply, repost], users), errors_only, single]


def v1_tweet(tid: str, text: str, uid: str = "22467092", handle: str = "sauterne", **extra) -> dict:
    return {
        "created_at": "Mon Nov 24 10:41:05 +0000 2014",
        "id": int(tid),
        "id_str": tid,
        "text": text,
        "truncated": False,
        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
        "source": '<a href="http://www.hootsuite.com" rel="nofollow">Hootsuite</a>',
        "in_reply_to_status_id": None,
        "in_reply_to_status_id_str": None,
        "user": {"id": int(uid), "id_str": uid, "screen_name": handle, "followers_count": 876},
        "retweet_count": 1,
        "favorite_count": 4,
        "lang": "en",
        **extra,
    }


def v1_sample() -> list[dict]:
    """An extended-mode original, a retweet, a quote reply and a streaming-API truncated tweet."""
    original = v1_tweet(
        "500",
        "Short form",
        full_text="Full text of #art by @muse https://t.co/a",
        entities={
            "hashtags": [{"text": "art", "indices": [13, 17]}],
            "user_mentions": [{"screen_name": "muse", "id_str": "9"}],
            "urls": [{"url": "https://t.co/a", "expanded_url": "https://art.example/x"}],
        },
    )
    retweet = v1_tweet(
        "501",
        "RT @sauterne: Full text of #art",
        uid="33",
        handle="fan",
        retweeted_status=v1_tweet("500", "Full text of #art"),
        retweet_count=7,
        favorite_count=0,
    )
    reply = v1_tweet(
        "502",
        "@sauterne so true",
        uid="34",
        handle="critic",
        in_reply_to_status_id=500,
        in_reply_to_status_id_str="500",
        quoted_status_id_str="400",
        reply_count=2,
        quote_count=1,
    )
    streamed = v1_tweet(
        "503",
        "Cut at 140 chars…",
        truncated=True,
        extended_tweet={
            "full_text": "Cut at 140 chars? No: the whole text.",
            "entities": {"hashtags": [{"text": "whole"}]},
        },
    )
    return [original, retweet, reply, streamed]


def write_jsonl(path: Path, records: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records))
    return path


def write_json(path: Path, value, indent: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=indent, ensure_ascii=False), encoding="utf-8")
    return path


def write_archive(root: Path, tweets: list[dict], account: bool = True) -> Path:
    """An unzipped X archive `root/data/tweets.js` (archive style: string counts, no user), optionally account.js."""
    data = root / "data"
    data.mkdir(parents=True)
    items = []
    for t in tweets:
        t = {k: v for k, v in t.items() if k != "user"}
        t["favorite_count"], t["retweet_count"] = str(t["favorite_count"]), str(t["retweet_count"])
        items.append({"tweet": t})
    (data / "tweets.js").write_text("window.YTD.tweets.part0 = " + json.dumps(items, indent=2), encoding="utf-8")
    if account:
        accounts = [
            {
                "account": {
                    "email": "me@example.com",
                    "username": "archivist",
                    "accountId": "777",
                    "accountDisplayName": "Archivist",
                }
            }
        ]
        (data / "account.js").write_text("window.YTD.account.part0 = " + json.dumps(accounts), encoding="utf-8")
    (data / "like.js").write_text('window.YTD.like.part0 = [{"like": {"tweetId": "1"}}]', encoding="utf-8")
    return data / "tweets.js"


CSV_ROWS = [
    ["tweet_id", "user_id", "screen_name", "full_text", "date", "likes", "retweets", "hashtags", "lang"],
    ["1", "10", "ann", "first line\nsecond line, with a comma", "2023-01-02T03:04:05Z", "3", "1", "a b", "en"],
    ["2", "11", "ben", 'she said "hi"', "2023-01-03", "0", "0", '["x", "y"]', "fr"],
    ["3", "12", "cat", "too", "many", "fields", "here", "1", "2", "3"],  # one field too many
    ["4", "13", "dan", "last row", "", "", "", "", ""],
]


def write_csv(path: Path) -> Path:
    """CSV_ROWS as CSV, or as TSV for a '.tsv' path."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter="\t" if path.suffix == ".tsv" else ",", lineterminator="\n").writerows(CSV_ROWS)
    return path


def write_parquet(path: Path, rows: int, row_group_size: int) -> Path:
    table = pa.table(
        {
            "id": [str(i) for i in range(rows)],
            "author_id": [f"u{i % 7}" for i in range(rows)],
            "text": [f"post number {i}" for i in range(rows)],
            "like_count": pa.array(range(rows), pa.int64()),
            "hashtags": [["h"] if i % 2 else [] for i in range(rows)],
            "labels": pa.array([[("topic", "x")]] * rows, pa.map_(pa.string(), pa.string())),
            "extra_column": ["ignored"] * rows,
        }
    )
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def write_tweeteval(root: Path) -> Path:
    """A TweetEval-shaped task folder root/tweeteval/emoji with text, labels and mapping files."""
    folder = root / "tweeteval" / "emoji"
    folder.mkdir(parents=True)
    (folder / "mapping.txt").write_text("0\t❤\t_red_heart_\t\n1\t😂\t_face_with_tears_of_joy_\t\n", encoding="utf-8")
    (folder / "train_labels.txt").write_text("0\n1\n1\n0\n", encoding="utf-8")
    text = folder / "train_text.txt"
    text.write_text("love this @user \nso funny\n\nwe won ", encoding="utf-8")  # line 3 empty, no final newline
    return text


def compress(path: Path, kind: str) -> Path:
    """A gzip ('gz') or zstd ('zst') copy of `path` beside it."""
    out = path.with_name(f"{path.name}.{kind}")
    data = path.read_bytes()
    out.write_bytes(gzip.compress(data) if kind == "gz" else zstandard.ZstdCompressor().compress(data))
    return out
