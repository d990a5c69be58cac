"""Helpers every format shares: origins, quarantine records, lines with size and encoding checks."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from warble.data.readers.base import QUARANTINE_RAW_CHARS, Quarantined, ReadTask
from warble.data.readers.io import iter_lines
from warble.data.schema import FIELDS, MAX_RECORD_BYTES, REQUIRED
from warble.errors import InputError, RecordError

# A mapper fed untrusted nested data fails with these when a field has the wrong shape (a list where an object
# belongs, ...). That is the record's fault, not a bug: the record is quarantined as wrong_type.
SHAPE_ERRORS = (TypeError, AttributeError)
# What a source may supply: every field but the origin, which is always the file the post was read from.
SOURCE_FIELDS = tuple(name for name in FIELDS if name != "origin")
REQUIRED_COLUMNS = tuple(name for name in REQUIRED if name != "origin")


def origin(task: ReadTask) -> str:
    return f"{task.fmt}:{Path(task.path).name}"


def quarantine(
    task: ReadTask,
    reason: str,
    detail: str = "",
    line: int | None = None,
    offset: int | None = None,
    raw: bytes | str = b"",
) -> Quarantined:
    if isinstance(raw, bytes):
        raw = raw[: 4 * QUARANTINE_RAW_CHARS].decode("utf-8", "replace")  # 4 bytes per character at most
    return Quarantined(task.path, reason, detail, line, offset, raw[:QUARANTINE_RAW_CHARS])


def as_record_error(exc: Exception) -> RecordError:
    """The RecordError itself, or a wrong_type one for a shape error raised while mapping."""
    return exc if isinstance(exc, RecordError) else RecordError("wrong_type", f"{type(exc).__name__}: {exc}")


def lines(task: ReadTask) -> Iterator[tuple[int | None, int, bytes] | Quarantined]:
    """The task's lines as (line number, offset, bytes); a line over MAX_RECORD_BYTES comes out quarantined."""
    for number, offset, content, whole in iter_lines(task.path, task.start, task.end):
        if whole:
            yield number, offset, content
        else:
            yield quarantine(task, "too_large", f"line over {MAX_RECORD_BYTES} bytes", number, offset, content)


def require_columns(task: ReadTask, columns: Iterable[str]) -> None:
    """Fail the whole file at once when a required column is absent: every row would be quarantined anyway."""
    columns = list(columns)
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise InputError(f"{task.path}: no column for {', '.join(missing)} (found: {', '.join(columns)})")
