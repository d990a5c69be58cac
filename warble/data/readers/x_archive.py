"""X/Twitter account archives: `data/tweets.js` (also `tweet.js`, `tweets-part1.js`, ...).

Such a file is a JavaScript assignment, `window.YTD.tweets.part0 = [{"tweet": {...}}, ...]`, of v1.1-like tweets
whose counts are strings and which carry no author: the archive is one account's. The author comes from the
sibling `account.js`; without one, author_id is "archive:<archive folder name>" (the folder holding `data/`),
which keeps the posts attributable to one account.
"""

from __future__ import annotations

import re

from pathlib import Path
from typing import BinaryIO, Iterator

import orjson

from warble.data.readers import twitter_v1
from warble.data.readers.base import ItemStream, ReadTask
from warble.data.readers.io import open_stream
from warble.data.readers.jsonrecords import array_records, read_json
from warble.data.schema import MAX_RECORD_BYTES
from warble.errors import InputError

PREFIX = b"window.YTD."
# window.YTD.tweets.part0 and the older window.YTD.tweet.part0, not tweet_headers, tweetdeck, ...
TWEETS_PREFIX = re.compile(rb"window\.YTD\.tweets?\.part\d+\s*=")
_MAX_PREFIX_BYTES = 256


def skip_prefix(stream: BinaryIO, path: str | Path) -> None:
    """Consume `window.YTD.<name>.part<N> =`, leaving the stream at the JSON array."""
    head = b""
    while not head.endswith(b"="):
        byte = stream.read(1)
        if not byte or len(head) > _MAX_PREFIX_BYTES:
            break
        head += byte
    if not (head.endswith(b"=") and head.lstrip().startswith(PREFIX)):
        raise InputError(f"{path}: not an X archive file (no 'window.YTD.<name>.part<N> =' prefix)")


def is_tweets_file(path: str | Path) -> bool:
    """Whether `path` is an archive's tweets file; other archive files (likes, followers, ...) hold no posts."""
    with open_stream(path) as f:
        return TWEETS_PREFIX.match(f.read(_MAX_PREFIX_BYTES).lstrip()) is not None


def archive_author(path: str | Path) -> tuple[str, str | None]:
    """(author_id, handle) for the archive holding `path`."""
    account_js = Path(path).absolute().with_name("account.js")
    if not account_js.exists():
        folder = account_js.parent
        if folder.name == "data":  # the standard layout: <archive>/data/tweets.js
            folder = folder.parent
        return f"archive:{folder.name}", None
    with open_stream(account_js) as f:
        skip_prefix(f, account_js)
        content = f.read(MAX_RECORD_BYTES)
    try:
        account = orjson.loads(content)[0]["account"]
        return str(account["accountId"]), account.get("username")
    except (ValueError, LookupError, TypeError) as exc:
        raise InputError(f"{account_js}: no account id in it ({type(exc).__name__}: {exc})") from None


def read(task: ReadTask) -> ItemStream:
    author_id, handle = archive_author(task.path)

    def map_record(obj: dict) -> Iterator[dict]:
        post = twitter_v1.to_post(obj.get("tweet", obj))  # very old archives hold bare tweets
        if not post["author_id"]:
            post["author_id"], post["author_handle"] = author_id, handle
        yield post

    with open_stream(task.path) as f:
        skip_prefix(f, task.path)
        yield from read_json(task, map_record, array_records(task, f))
