"""Splitting one input file into read tasks that workers can run independently."""

from __future__ import annotations

import os
from itertools import pairwise
from pathlib import Path

from warble.data.readers.base import ReadTask
from warble.data.readers.io import compression
from warble.data.readers.jsonrecords import layout
from warble.data.readers.parquet_file import row_group_ranges

# JSON Lines can be cut at any byte: a reader aligns to line starts. A compressed stream cannot be entered
# mid-way, and arrays, documents, CSV (quoted newlines) and text (ids are line numbers) need their start.
LINE_SPLITTABLE = frozenset(("twitter_v2", "twitter_v1", "warble"))


def plan_tasks(path: str | Path, fmt: str, target_bytes: int = 64 << 20) -> list[ReadTask]:
    """Tasks covering the whole file exactly once: byte ranges of about `target_bytes`, row-group ranges for
    Parquet, or the whole file. Deterministic for a given file and target."""
    path = str(path)
    if fmt == "parquet":
        return [ReadTask(path, fmt, start, end) for start, end in row_group_ranges(path, target_bytes)]
    size = os.path.getsize(path)
    if fmt in LINE_SPLITTABLE and size > target_bytes and compression(path) is None and layout(path) == "lines":
        parts = -(-size // target_bytes)
        bounds = [size * i // parts for i in range(parts + 1)]
        return [ReadTask(path, fmt, start, end) for start, end in pairwise(bounds)]
    return [ReadTask(path, fmt)]
