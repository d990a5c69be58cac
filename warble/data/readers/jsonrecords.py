"""JSON-based formats: find the records in a file and map each onto posts.

A file holds its records as JSON Lines (one object a line; splittable), one JSON array (streamed in constant
memory), or one pretty-printed document (its first line is a lone '{', e.g. a saved API response).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

import ijson
import orjson

from warble.data.readers.base import ItemStream, Quarantined, ReadTask
from warble.data.readers.io import open_stream
from warble.data.readers.records import SHAPE_ERRORS, as_record_error, lines, origin, quarantine
from warble.data.schema import MAX_RECORD_BYTES
from warble.errors import RecordError

MAX_DOCUMENT_BYTES = 64 << 20  # one saved API response; even 500 tweets with expansions stay far below

# (object, line number, byte offset, raw bytes); raw is None for array items, whose bytes are not kept.
Record = tuple[dict, int | None, int | None, bytes | None]
# Maps one record to posts; yields a RecordError for a part that cannot be mapped (one tweet of a response).
Mapper = Callable[[dict], Iterable[dict | RecordError]]


def layout(path: str | Path) -> str:
    """'array', 'document' or 'lines', from the first non-blank line of the decompressed file."""
    with open_stream(path) as f:
        while line := f.readline(MAX_RECORD_BYTES):
            first = line.strip()
            if first:
                break
        else:
            return "lines"  # empty
    if first.startswith(b"["):
        return "array"
    return "document" if first == b"{" else "lines"


def loads(content: bytes) -> Any:
    """Parse one JSON value, or raise RecordError bad_utf8 / bad_json."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise RecordError("bad_utf8", str(exc)) from None
        try:  # the stdlib accepts what orjson refuses but JSON allows (lone surrogate escapes, huge integers)
            return json.loads(text)
        except ValueError:
            raise RecordError("bad_json", str(exc)) from None


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)  # error path only; copes with any parsed value


def _not_object(task: ReadTask, obj: Any, line: int | None, offset: int | None, raw: Any) -> Quarantined:
    return quarantine(task, "wrong_type", f"expected an object, got {type(obj).__name__}", line, offset, raw)


def _line_records(task: ReadTask) -> Iterator[Record | Quarantined]:
    for item in lines(task):
        if type(item) is Quarantined:
            yield item
            continue
        number, offset, content = item
        if not content or content.isspace():
            continue  # a blank line separates nothing and holds no record
        try:
            obj = loads(content)
        except RecordError as exc:
            yield quarantine(task, exc.reason, exc.detail, number, offset, content)
            continue
        if type(obj) is dict:
            yield obj, number, offset, content
        else:
            yield _not_object(task, obj, number, offset, content)


def array_records(task: ReadTask, stream: BinaryIO) -> Iterator[Record | Quarantined]:
    """The items of the JSON array in `stream`. A syntax error quarantines the rest of the array and stops."""
    count = 0
    try:
        for obj in ijson.items(stream, "item", use_float=True):
            count += 1
            yield (obj, None, None, None) if type(obj) is dict else _not_object(task, obj, None, None, _dump(obj))
    except ijson.JSONError as exc:
        detail = str(exc.args[0] if exc.args else exc)
        reason = "bad_utf8" if "UTF8" in detail else "bad_json"
        yield quarantine(task, reason, f"after array item {count}: {detail}")


def _document_record(task: ReadTask) -> Iterator[Record | Quarantined]:
    with open_stream(task.path) as f:
        content = f.read(MAX_DOCUMENT_BYTES + 1)
    if len(content) > MAX_DOCUMENT_BYTES:
        yield quarantine(task, "too_large", f"JSON document over {MAX_DOCUMENT_BYTES} bytes", 1, 0, content)
        return
    try:
        obj = loads(content)
    except RecordError as exc:
        yield quarantine(task, exc.reason, exc.detail, 1, 0, content)
        return
    yield (obj, 1, 0, content) if type(obj) is dict else _not_object(task, obj, 1, 0, content)


def json_records(task: ReadTask) -> Iterator[Record | Quarantined]:
    kind = "lines" if task.start else layout(task.path)  # only JSON Lines files are split into ranges
    if kind == "lines":
        yield from _line_records(task)
    elif kind == "document":
        yield from _document_record(task)
    else:
        with open_stream(task.path) as f:
            yield from array_records(task, f)


def read_json(task: ReadTask, mapper: Mapper, records: Iterable[Record | Quarantined] | None = None) -> ItemStream:
    """Posts from each record of the file (or of `records`); a record the mapper fails on is quarantined."""
    source = origin(task)
    for record in json_records(task) if records is None else records:
        if type(record) is Quarantined:
            yield record
            continue
        obj, line, offset, raw = record
        try:
            for post in mapper(obj):
                if isinstance(post, RecordError):
                    yield quarantine(task, post.reason, post.detail, line, offset, raw or _dump(obj))
                else:
                    post["origin"], post["_line"], post["_offset"] = source, line, offset
                    yield post
        except (RecordError, *SHAPE_ERRORS) as exc:
            error = as_record_error(exc)
            yield quarantine(task, error.reason, error.detail, line, offset, raw or _dump(obj))


def pluck(entities: Any, *keys: str) -> list:
    """From a list of entity objects, the first non-empty value of `keys` in each (entities lacking all are skipped)."""
    out = []
    for entity in entities or ():
        for key in keys:
            value = entity.get(key)
            if value:
                out.append(value)
                break
    return out
