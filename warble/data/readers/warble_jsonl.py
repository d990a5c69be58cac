"""Warble's own JSON Lines: keys are already POST_SCHEMA names (created_at an ISO string); others are dropped."""

from __future__ import annotations

from typing import Iterator

from warble.data.readers.base import ItemStream, ReadTask
from warble.data.readers.jsonrecords import read_json
from warble.data.readers.records import REQUIRED_COLUMNS, SOURCE_FIELDS

POST_KEYS = frozenset(REQUIRED_COLUMNS)


def map_record(obj: dict) -> Iterator[dict]:
    yield {name: obj[name] for name in SOURCE_FIELDS if name in obj}


def read(task: ReadTask) -> ItemStream:
    return read_json(task, map_record)
