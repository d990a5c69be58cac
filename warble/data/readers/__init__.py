"""Input readers: find input files, tell their format, split them into tasks, stream each task's posts.

The pipeline calls exactly `FORMATS`, `expand_inputs`, `detect_format`, `plan_tasks` and `read_task`. Each
format is one module with a `read(task)` generator; base.py states the contract every reader keeps.
"""

from __future__ import annotations

from warble.data.readers import csv_file, parquet_file, text_file, twitter_v1, twitter_v2, warble_jsonl, x_archive
from warble.data.readers.base import Item, ItemStream, Quarantined, ReadTask
from warble.data.readers.detect import detect_format, expand_inputs
from warble.data.readers.io import DECOMPRESSION_ERRORS
from warble.data.readers.plan import plan_tasks
from warble.errors import InputError

READERS = {
    "twitter_v2": twitter_v2.read,
    "twitter_v1": twitter_v1.read,
    "x_archive": x_archive.read,
    "warble": warble_jsonl.read,
    "csv": csv_file.read,
    "parquet": parquet_file.read,
    "text": text_file.read,
}
FORMATS = tuple(READERS)

__all__ = [
    "FORMATS",
    "Item",
    "ItemStream",
    "Quarantined",
    "ReadTask",
    "detect_format",
    "expand_inputs",
    "plan_tasks",
    "read_task",
]


def read_task(task: ReadTask) -> ItemStream:
    """The posts (dicts with POST_SCHEMA names, `origin`, `_line`, `_offset`) and Quarantined records of a task."""
    if task.fmt not in READERS:
        raise InputError(f"unknown input format {task.fmt!r} (known: {', '.join(FORMATS)})")
    return _guarded(task)


def _guarded(task: ReadTask) -> ItemStream:
    try:
        yield from READERS[task.fmt](task)
    except DECOMPRESSION_ERRORS as exc:  # a truncated download: keep what came before, record where it broke
        yield Quarantined(task.path, "bad_compression", f"{type(exc).__name__}: {exc}")
