"""The canonical post schema: defined here once, used by every reader, stage, writer and later stage.

A post is one row of an Arrow table with `POST_SCHEMA`. Readers map their source format onto plain dicts with
these field names; `validate_post` turns such a dict into the canonical Python values (or raises
`RecordError`, which sends the record to quarantine); `posts_to_batch` packs validated dicts into a
`pyarrow.RecordBatch`. docs/SCHEMA.md explains every field; keep the two in step.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, Iterable

import pyarrow as pa

from warble.errors import RecordError

# Sanity bounds. A record outside them is quarantined as "too_large" / "wrong_type", not truncated:
# silently cutting a post would change what the model learns from it.
MAX_TEXT_CHARS = 25_000  # X's long posts stop at 25,000 characters
MAX_ID_CHARS = 64
MAX_LIST_ITEMS = 100
MAX_COUNT = 10**13  # more engagements than humans alive, times a thousand
MAX_RECORD_BYTES = 1 << 20  # one raw record (a JSON line, a CSV row) above 1 MiB is absurd for a post

_HTML_TAG = re.compile(r"<[^>]*>")


def client_name(source: str) -> str:
    """The posting client without v1.1's HTML anchor: '<a href="...">Hootsuite</a>' -> 'Hootsuite'."""
    return _HTML_TAG.sub("", source).strip() if "<" in source else source

STRING_ID_FIELDS = ("id", "author_id", "conversation_id", "reply_to_id", "quote_of_id", "repost_of_id")
COUNT_FIELDS = ("like_count", "repost_count", "reply_count", "quote_count", "view_count", "author_followers")
LIST_FIELDS = ("hashtags", "mentions", "urls")

TIMESTAMP = pa.timestamp("ms", tz="UTC")

POST_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("author_id", pa.string(), nullable=False),
        pa.field("author_handle", pa.string()),
        pa.field("created_at", TIMESTAMP),
        pa.field("text", pa.string(), nullable=False),
        pa.field("lang", pa.string()),
        pa.field("conversation_id", pa.string()),
        pa.field("reply_to_id", pa.string()),
        pa.field("quote_of_id", pa.string()),
        pa.field("repost_of_id", pa.string()),
        pa.field("hashtags", pa.list_(pa.string()), nullable=False),
        pa.field("mentions", pa.list_(pa.string()), nullable=False),
        pa.field("urls", pa.list_(pa.string()), nullable=False),
        pa.field("like_count", pa.int64()),
        pa.field("repost_count", pa.int64()),
        pa.field("reply_count", pa.int64()),
        pa.field("quote_count", pa.int64()),
        pa.field("view_count", pa.int64()),
        pa.field("author_followers", pa.int64()),
        pa.field("source", pa.string()),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("labels", pa.map_(pa.string(), pa.string())),
    ],
    metadata={"warble.schema": "post/v1"},
)

FIELDS = tuple(POST_SCHEMA.names)
REQUIRED = ("id", "author_id", "text", "origin")


def _utf8(name: str, value: str) -> str:
    """Lone surrogates (broken UTF-16 in the source) cannot be stored in Arrow/Parquet: quarantine the record."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RecordError("bad_utf8", f"{name} holds unpaired surrogates") from None
    return value


def _as_id(name: str, value: Any, required: bool) -> str | None:
    if isinstance(value, str):
        value = value.strip()  # " 456" from a hand-made CSV must still match the compliance lists
    if value is None or value == "":
        if required:
            raise RecordError("missing_field", name)
        return None
    if isinstance(value, bool):
        raise RecordError("wrong_type", f"{name} is a boolean")
    if isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        if not value.is_integer():
            raise RecordError("wrong_type", f"{name} is a non-integer number")
        value = str(int(value))
    elif not isinstance(value, str):
        raise RecordError("wrong_type", f"{name} is {type(value).__name__}")
    if len(value) > MAX_ID_CHARS:
        raise RecordError("too_large", f"{name} has {len(value)} characters")
    if any(c.isspace() for c in value):
        raise RecordError("wrong_type", f"{name} holds whitespace")
    return _utf8(name, value)


def _as_count(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError("wrong_type", f"{name} is a boolean")
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if not value.is_integer():
            raise RecordError("wrong_type", f"{name} is not an integer")
        value = int(value)
    elif isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise RecordError("wrong_type", f"{name}={value[:20]!r} is not an integer") from None
    elif not isinstance(value, int):
        raise RecordError("wrong_type", f"{name} is {type(value).__name__}")
    if value < 0:
        raise RecordError("wrong_type", f"{name} is negative")
    if value > MAX_COUNT:
        raise RecordError("too_large", f"{name}={value}")
    return value


def _as_list(name: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):  # CSV and hand-made JSONL often carry "a b c"
        value = value.split()
    if not isinstance(value, (list, tuple)):
        raise RecordError("wrong_type", f"{name} is {type(value).__name__}")
    if len(value) > MAX_LIST_ITEMS:
        raise RecordError("too_large", f"{name} has {len(value)} items")
    out = []
    for item in value:
        if not isinstance(item, str):
            raise RecordError("wrong_type", f"{name} holds {type(item).__name__}")
        out.append(_utf8(name, item))
    return out


def parse_timestamp(value: Any) -> dt.datetime | None:
    """UTC datetime from ISO 8601, Twitter v1.1's 'Wed Oct 10 20:19:24 +0000 2018', epoch seconds/ms, or datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        ts = value
    elif isinstance(value, bool):
        raise RecordError("bad_timestamp", "boolean")
    elif isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) > 1e11 else value  # epoch ms vs epoch s
        try:
            ts = dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise RecordError("bad_timestamp", str(value)) from None
    elif isinstance(value, str):
        s = value.strip()
        try:
            if len(s) == 30 and s[3] == " " and s[-5] == " ":  # v1.1: Wed Oct 10 20:19:24 +0000 2018
                ts = dt.datetime.strptime(s, "%a %b %d %H:%M:%S %z %Y")
            else:
                ts = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise RecordError("bad_timestamp", s[:40]) from None
    else:
        raise RecordError("bad_timestamp", type(value).__name__)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.timezone.utc)  # naive timestamps in dumps are UTC by convention
    ts = ts.astimezone(dt.timezone.utc)
    if not (2000 <= ts.year <= 2100):
        raise RecordError("bad_timestamp", f"year {ts.year}")
    return ts


def validate_post(record: dict[str, Any]) -> dict[str, Any]:
    """Canonical values for one mapped record, or `RecordError` with a quarantine reason.

    Unknown keys are an error in the caller (readers map onto FIELDS), so they are ignored here only if they
    start with '_' (reader bookkeeping such as `_line`).
    """
    text = record.get("text")
    if text is None:
        raise RecordError("missing_field", "text")
    if not isinstance(text, str):
        raise RecordError("wrong_type", f"text is {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise RecordError("too_large", f"text has {len(text)} characters")
    if not text.strip():
        raise RecordError("missing_field", "text is empty")
    _utf8("text", text)

    out: dict[str, Any] = {
        "id": _as_id("id", record.get("id"), True),
        "author_id": _as_id("author_id", record.get("author_id"), True),
        "text": text,
        "created_at": parse_timestamp(record.get("created_at")),
    }
    for name in ("conversation_id", "reply_to_id", "quote_of_id", "repost_of_id"):
        out[name] = _as_id(name, record.get(name), False)
    for name in ("author_handle", "lang", "source"):
        value = record.get(name)
        if name == "source" and isinstance(value, str):
            value = client_name(value)
        if value is not None and not isinstance(value, str):
            raise RecordError("wrong_type", f"{name} is {type(value).__name__}")
        if value is not None and len(value) > 256:
            raise RecordError("too_large", f"{name} has {len(value)} characters")
        out[name] = _utf8(name, value) if value else None
    for name in LIST_FIELDS:
        out[name] = _as_list(name, record.get(name))
    for name in COUNT_FIELDS:
        out[name] = _as_count(name, record.get(name))
    origin = record.get("origin")
    if not isinstance(origin, str) or not origin:
        raise RecordError("missing_field", "origin")
    out["origin"] = _utf8("origin", origin)
    labels = record.get("labels")
    if labels is not None:
        if not isinstance(labels, dict):
            raise RecordError("wrong_type", "labels is not an object")
        labels = {_utf8("labels", str(k)): _utf8("labels", v if isinstance(v, str) else str(v))
                  for k, v in labels.items()}
    out["labels"] = labels or None
    if out["conversation_id"] is None:
        out["conversation_id"] = out["id"] if out["reply_to_id"] is None else None
    return out


def posts_to_batch(posts: Iterable[dict[str, Any]]) -> pa.RecordBatch:
    """Pack validated post dicts into one RecordBatch with POST_SCHEMA (labels as key/value pairs)."""
    rows = []
    for p in posts:
        labels = p.get("labels")
        if labels is not None and isinstance(labels, dict):
            p = {**p, "labels": list(labels.items())}
        rows.append(p)
    return pa.RecordBatch.from_pylist(rows, schema=POST_SCHEMA)

