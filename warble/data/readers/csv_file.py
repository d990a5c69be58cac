"""CSV, and TSV by the '.tsv' name: a header row naming POST_SCHEMA fields (or common aliases), then one post a row.

The csv module parses lines decoded one at a time, so a quoted field may span lines and a bad byte or an
over-long line costs only the row holding it. A list column holds space-separated words or a JSON array; a
labels column holds a JSON object. Quoted fields make byte ranges ambiguous, so a CSV file is always one task.
"""

from __future__ import annotations

import csv
from typing import Any, Iterator

import orjson

from warble.data.readers.base import ItemStream, ReadTask
from warble.data.readers.io import iter_lines, logical_name
from warble.data.readers.records import SOURCE_FIELDS, origin, quarantine, require_columns
from warble.data.schema import LIST_FIELDS, MAX_RECORD_BYTES
from warble.errors import RecordError

ALIASES = {
    "tweet_id": "id",
    "user_id": "author_id",
    "username": "author_handle",
    "screen_name": "author_handle",
    "full_text": "text",
    "content": "text",
    "tweet": "text",
    "date": "created_at",
    "likes": "like_count",
    "favorite_count": "like_count",
    "retweets": "repost_count",
    "retweet_count": "repost_count",
    "replies": "reply_count",
}
_JSON_FIELDS = (*LIST_FIELDS, "labels")


class _LineFeed:
    """Decoded lines for csv.reader, noting where the row being assembled starts and its first problem."""

    def __init__(self, path: str):
        self._lines = iter_lines(path)
        self._new_row()

    def _new_row(self) -> None:
        self._line = self._offset = self._problem = None
        self._size = 0

    def take(self) -> tuple[int | None, int | None, RecordError | None]:
        """(line, offset, problem) of the row just assembled; starts a new row."""
        state = self._line, self._offset, self._problem
        self._new_row()
        return state

    def _flag(self, reason: str, detail: str) -> None:
        self._problem = self._problem or RecordError(reason, detail)

    def __iter__(self) -> Iterator[str]:
        for number, offset, content, whole in self._lines:
            if self._line is None:
                self._line, self._offset = number, offset
            self._size += len(content)
            if not whole or self._size > MAX_RECORD_BYTES:
                self._flag("too_large", f"row over {MAX_RECORD_BYTES} bytes")
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._flag("bad_utf8", str(exc))
                text = content.decode("utf-8", "replace")
            yield text + "\n"  # the line end tells csv a quoted field goes on


def column_index(header: list[str]) -> dict[str, int]:
    """Post field -> column; a column named exactly as a field wins over an alias of it."""
    names = [cell.strip().lstrip("\ufeff").lower() for cell in header]  # a BOM from spreadsheet exports
    index: dict[str, int] = {}
    for i, name in sorted(enumerate(names), key=lambda pair: pair[1] not in SOURCE_FIELDS):
        field = name if name in SOURCE_FIELDS else ALIASES.get(name)
        if field:
            index.setdefault(field, i)
    return index


def to_post(row: list[str], index: dict[str, int], width: int) -> dict:
    if len(row) != width:
        raise RecordError("bad_csv", f"{len(row)} fields, the header has {width}")
    return {field: _decode_json(field, row[i]) for field, i in index.items() if row[i]}


def _decode_json(field: str, value: str) -> Any:
    if field in _JSON_FIELDS and value[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise RecordError("bad_json", f"{field}: {exc}") from None
    return value


def read(task: ReadTask) -> ItemStream:
    feed = _LineFeed(task.path)
    delimiter = "\t" if logical_name(task.path).lower().endswith(".tsv") else ","
    # TSV is read with CSV quoting, as pandas and the csv module write it; an unquoted TSV whose posts start
    # with '"' should be converted first (or read as plain text).
    reader = csv.reader(feed, delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return
    feed.take()
    index = column_index(header)
    require_columns(task, index)
    source = origin(task)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit(); the reader resumes at the next line
            line, offset, _ = feed.take()
            yield quarantine(task, "bad_csv", str(exc), line, offset)
            continue
        line, offset, problem = feed.take()
        if not row:
            continue  # a blank line holds no row
        if problem is None:
            try:
                post = to_post(row, index, len(header))
            except RecordError as exc:
                problem = exc
        if problem is not None:
            yield quarantine(task, problem.reason, problem.detail, line, offset, delimiter.join(row))
            continue
        post["origin"], post["_line"], post["_offset"] = source, line, offset
        yield post
