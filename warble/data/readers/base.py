"""Reader contract shared by every input format (see warble/data/readers/__init__.py for the entry points).

A reader turns one `ReadTask` (a file, or a byte range / row-group range of one) into a stream of items:
either a dict whose keys are POST_SCHEMA field names (plus optional private keys starting with '_', e.g.
`_line`), or a `Quarantined` record saying why a raw record could not be mapped. Validation of field types
happens later in `warble.data.schema.validate_post`; a reader only maps and reports what it cannot parse.
Readers stream: memory must not grow with the file size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterator, Union

QUARANTINE_RAW_CHARS = 2000  # keep enough of a bad record to debug it, not a whole 1 GB line


@dataclass(frozen=True)
class ReadTask:
    path: str
    fmt: str
    start: int = 0  # byte offset (line formats) or first row group (parquet)
    end: int | None = None  # exclusive; None = to the end


@dataclass
class Quarantined:
    source: str
    reason: str  # stable short code: bad_json, bad_utf8, missing_field, wrong_type, too_large, ...
    detail: str = ""
    line: int | None = None  # 1-based line number where known
    offset: int | None = None  # byte offset of the record where known
    raw: str = ""  # the record as read, cut to QUARANTINE_RAW_CHARS

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["raw"] = d["raw"][:QUARANTINE_RAW_CHARS]
        return d


Item = Union[dict, Quarantined]
ItemStream = Iterator[Item]
