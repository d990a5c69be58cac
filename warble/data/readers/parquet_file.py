"""Parquet files whose columns are POST_SCHEMA fields (a subset; id, author_id and text are required).

Tasks are row-group ranges. `_line` is the 1-based row number in the file; there is no byte offset.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from warble.data.readers.base import ItemStream, ReadTask
from warble.data.readers.records import SOURCE_FIELDS, origin, require_columns
from warble.errors import InputError

BATCH_ROWS = 8192


def open_parquet(path: str | Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None


def row_group_ranges(path: str | Path, target_bytes: int) -> list[tuple[int, int]]:
    """Consecutive row groups, [start, end) ranges of about `target_bytes` uncompressed each."""
    with open_parquet(path) as f:
        meta = f.metadata
    ranges, start, size = [], 0, 0
    for i in range(meta.num_row_groups):
        size += meta.row_group(i).total_byte_size
        if size >= target_bytes:
            ranges.append((start, i + 1))
            start, size = i + 1, 0
    if start < meta.num_row_groups or not ranges:
        ranges.append((start, meta.num_row_groups))
    return ranges


def read(task: ReadTask) -> ItemStream:
    with open_parquet(task.path) as f:
        columns = [name for name in f.schema_arrow.names if name in SOURCE_FIELDS]
        require_columns(task, columns)
        groups = range(task.start, f.num_row_groups if task.end is None else task.end)
        if not groups:
            return
        row = sum(f.metadata.row_group(i).num_rows for i in range(task.start))
        source = origin(task)
        for batch in f.iter_batches(batch_size=BATCH_ROWS, row_groups=groups, columns=columns):
            for post in batch.to_pylist():
                row += 1
                if isinstance(post.get("labels"), list):  # an Arrow map comes back as (key, value) pairs
                    post["labels"] = dict(post["labels"])
                post["origin"], post["_line"], post["_offset"] = source, row, None
                yield post
