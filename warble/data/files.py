"""Atomic file writes: a reader (or a crash) never sees a half-written corpus file, manifest or list."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

PARQUET_OPTS = dict(compression="zstd", compression_level=3)


def _replace(tmp: Path, dest: Path) -> None:
    os.replace(tmp, dest)


def write_table(table: pa.Table, dest: str | Path) -> None:
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    pq.write_table(table, tmp, **PARQUET_OPTS)
    _replace(tmp, dest)


def write_bytes(data: bytes, dest: str | Path) -> None:
    dest = Path(dest)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(data)
    _replace(tmp, dest)


def write_json(obj: Any, dest: str | Path) -> None:
    write_bytes(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n", dest)
