"""The stage contract: every cleaning/filtering step is a function over Arrow record batches.

A stage takes a batch with POST_SCHEMA and returns a `StageResult`: the surviving rows (schema unchanged), how
many rows it removed per reason, and how many it changed per kind. Stages hold no cross-batch state, so the same
stage runs unchanged in a local process pool or on a Ray cluster. Cross-shard work (dedup) is a separate phase.

Reason names are `<stage>.<reason>` (e.g. `quality.too_short`, `lang.not_allowed`) and appear as is in the
manifest's `filtered` map, so keep them stable.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class StageResult:
    batch: pa.RecordBatch
    filtered: Counter = field(default_factory=Counter)  # reason -> rows removed
    modified: Counter = field(default_factory=Counter)  # kind -> rows (or spans) changed


class Stage(Protocol):
    name: str

    def __call__(self, batch: pa.RecordBatch) -> StageResult: ...


def replace_column(batch: pa.RecordBatch, name: str, values: Sequence | pa.Array) -> pa.RecordBatch:
    """The batch with column `name` replaced, keeping the schema's type."""
    i = batch.schema.get_field_index(name)
    typ = batch.schema.field(i).type
    arr = values if isinstance(values, pa.Array) else pa.array(values, type=typ)
    return batch.set_column(i, batch.schema.field(i), arr)


def drop_rows(batch: pa.RecordBatch, reasons: Sequence[str | None]) -> StageResult:
    """Keep rows whose reason is None; count the others by reason."""
    keep = np.fromiter((r is None for r in reasons), dtype=bool, count=len(reasons))
    filtered = Counter(r for r in reasons if r is not None)
    if keep.all():
        return StageResult(batch, filtered)
    return StageResult(batch.filter(pa.array(keep)), filtered)


def map_text(batch: pa.RecordBatch, fn: Callable[[str], tuple[str, Counter | None]]) -> StageResult:
    """Apply `fn(text) -> (new_text, counts)` to every post; counts are summed into `modified`."""
    texts = batch.column("text").to_pylist()
    modified: Counter = Counter()
    out = []
    for t in texts:
        new, counts = fn(t)
        if counts:
            modified.update(counts)
        out.append(new)
    return StageResult(replace_column(batch, "text", out), modified=modified)


def text_lengths(batch: pa.RecordBatch) -> np.ndarray:
    return pc.utf8_length(batch.column("text")).to_numpy(zero_copy_only=False)
