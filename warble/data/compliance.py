"""Compliance lists: authors who opted out and posts that were deleted.

The lists are plain text files, one id per line ('#' starts a comment), because they come from other systems
(account settings, deletion events) and must be easy to produce and audit. Every stage that stores or emits
posts honours them: ingest drops matching posts before any other stage sees them, `warble ingest
--apply-deletions` rewrites an existing corpus, and training and search read the same lists (the corpus keeps a
copy under `compliance/` so downstream stages apply exactly what ingest applied, plus anything newer).

A repost carries the reposted text, so reposts of blocked posts go too: by `repost_of_id` here, and by text at
ingest (a retweet of an opted-out author's post names no author id, but has that post's exact text).
Quarantined records are unparsed, so any that names a listed id as a whole token is purged rather than kept.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from warble.data.files import write_bytes
from warble.data.stages import StageResult, drop_rows
from warble.errors import InputError

OPT_OUT_FILE = "opt_out_authors.txt"
DELETED_FILE = "deleted_posts.txt"

REASON_OPTED_OUT = "compliance.opted_out"
REASON_DELETED = "compliance.deleted"
REASON_REPOST = "compliance.repost_of_blocked"  # a repost whose text is that of a blocked post
REASON_QUARANTINE = "compliance.purged_from_quarantine"  # a malformed record that names a listed id

_TOKEN = re.compile(r"\w[\w:-]*")


def read_id_list(path: str | Path) -> set[str]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"compliance list {p} does not exist")
    ids = set()
    with open(p, encoding="utf-8-sig") as f:  # -sig: a byte-order mark must not hide the first id
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                ids.add(line)
    return ids


def _digest(ids: set[str]) -> str:
    h = hashlib.sha256()
    for i in sorted(ids):
        h.update(i.encode() + b"\n")
    return h.hexdigest()[:16]


@dataclass
class ComplianceLists:
    opted_out_authors: set[str] = field(default_factory=set)
    deleted_posts: set[str] = field(default_factory=set)
    _arrays: tuple | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def load(cls, opt_out: Iterable[str | Path] = (), deletions: Iterable[str | Path] = ()) -> "ComplianceLists":
        lists = cls()
        for p in opt_out:
            lists.opted_out_authors |= read_id_list(p)
        for p in deletions:
            lists.deleted_posts |= read_id_list(p)
        return lists

    @classmethod
    def from_dir(cls, d: str | Path) -> "ComplianceLists":
        """The lists a corpus was built with (missing files = empty lists)."""
        d = Path(d)
        return cls.load([p for p in [d / OPT_OUT_FILE] if p.exists()], [p for p in [d / DELETED_FILE] if p.exists()])

    def __bool__(self) -> bool:
        return bool(self.opted_out_authors or self.deleted_posts)

    def merged(self, other: "ComplianceLists") -> "ComplianceLists":
        return ComplianceLists(self.opted_out_authors | other.opted_out_authors, self.deleted_posts | other.deleted_posts)

    def save(self, d: str | Path) -> None:
        d = Path(d)
        d.mkdir(parents=True, exist_ok=True)
        for name, ids in ((OPT_OUT_FILE, self.opted_out_authors), (DELETED_FILE, self.deleted_posts)):
            write_bytes("".join(i + "\n" for i in sorted(ids)).encode("utf-8"), d / name)

    def summary(self) -> dict:
        return {
            "opted_out_authors": len(self.opted_out_authors),
            "deleted_posts": len(self.deleted_posts),
            "digest": _digest(self.opted_out_authors) + _digest(self.deleted_posts),
        }

    def _value_sets(self) -> tuple[pa.Array, pa.Array]:
        # Built once per list object: is_in over a million-id value set is fast, building the set is not.
        if self._arrays is None:
            self._arrays = (pa.array(sorted(self.opted_out_authors), type=pa.string()),
                            pa.array(sorted(self.deleted_posts), type=pa.string()))
        return self._arrays

    def mentioned_in(self, raw: str) -> bool:
        """Whether an unparsed record (a quarantined line) holds a listed id as a whole token."""
        return bool(self) and any(t in self.deleted_posts or t in self.opted_out_authors for t in _TOKEN.findall(raw))

    def blocked_mask(self, batch: pa.RecordBatch | pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks (opted_out, deleted) over the rows; `deleted` includes reposts of deleted posts."""
        n = batch.num_rows
        if not self:
            return np.zeros(n, bool), np.zeros(n, bool)
        authors, deleted = self._value_sets()
        opted = pc.is_in(batch.column("author_id"), value_set=authors).to_numpy(zero_copy_only=False)
        gone = pc.is_in(batch.column("id"), value_set=deleted).to_numpy(zero_copy_only=False)
        repost = pc.fill_null(pc.is_in(batch.column("repost_of_id"), value_set=deleted), False)
        return opted, gone | repost.to_numpy(zero_copy_only=False)


@lru_cache(maxsize=4)
def _cached_lists(d: str, mtime_ns: int) -> ComplianceLists:
    return ComplianceLists.from_dir(d)


class ComplianceStage:
    """Drops posts of opted-out authors and deleted posts. Runs first, so nothing downstream ever sees them.

    Holds the directory of the lists, not the lists: a deletion list can hold millions of ids, and each worker
    process should load it once rather than receive it with every task.
    """

    name = "compliance"

    def __init__(self, lists_dir: str | Path):
        self.lists_dir = str(lists_dir)

    @property
    def lists(self) -> ComplianceLists:
        d = Path(self.lists_dir)
        stamp = max((p.stat().st_mtime_ns for p in d.glob("*.txt")), default=0)
        return _cached_lists(self.lists_dir, stamp)

    def split(self, batch: pa.RecordBatch) -> tuple[StageResult, pa.RecordBatch | None]:
        """The stage result, and the blocked rows themselves (so ingest can also drop reposts of them)."""
        lists = self.lists
        if not lists:
            return StageResult(batch), None
        opted, gone = lists.blocked_mask(batch)
        reasons = [REASON_OPTED_OUT if o else REASON_DELETED if g else None for o, g in zip(opted, gone)]
        blocked = opted | gone
        return drop_rows(batch, reasons), (batch.filter(pa.array(blocked)) if blocked.any() else None)

    def __call__(self, batch: pa.RecordBatch) -> StageResult:
        return self.split(batch)[0]
