"""The store of record: one SQLite database (WAL) with every indexed post, its live/deleted state, the compliance
lists, the embedding cache and the index's metadata.

The store decides what exists. Its transaction is the commit point of `add` (a post is acknowledged once its row
and its vector are committed here), and every hit of the lexical or dense index is checked against it before it is
returned, so a deleted post or an opted-out author never comes back even while a derived index still holds it.
The derived indexes (tantivy, HNSW) are rebuilt or caught up from it; `meta` records how far each has got.

Keys: every post gets an integer `key` (AUTOINCREMENT: never reused, even after compaction removes rows), the id
tantivy and the HNSW index use. Keys only grow, so "everything above the watermark" is what a derived index misses.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

FORMAT = "warble.search-index/v1"
STORE_FILE = "store.sqlite"
LIVE_POSTS = "live_posts"  # meta: the count of live posts, kept by insert and mark_dead in their transactions

FIELDS = ("id", "author_id", "author_handle", "created_at", "text", "lang", "reply_to_id", "quote_of_id",
          "repost_of_id", "hashtags", "mentions", "urls", "like_count", "repost_count", "reply_count", "quote_count")
LIST_FIELDS = ("hashtags", "mentions", "urls")
_CHUNK = 900  # bound parameters per statement: below SQLite's old default limit of 999

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS posts (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    author_id TEXT NOT NULL,
    author_handle TEXT,
    created_at INTEGER,          -- ms since the epoch, UTC
    text TEXT NOT NULL,
    lang TEXT,
    reply_to_id TEXT,
    quote_of_id TEXT,
    repost_of_id TEXT,
    hashtags TEXT NOT NULL,      -- JSON lists
    mentions TEXT NOT NULL,
    urls TEXT NOT NULL,
    like_count INTEGER,
    repost_count INTEGER,
    reply_count INTEGER,
    quote_count INTEGER,
    live INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS posts_author ON posts(author_id);
CREATE INDEX IF NOT EXISTS posts_repost_of ON posts(repost_of_id) WHERE repost_of_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS posts_dead ON posts(key) WHERE live = 0;
CREATE TABLE IF NOT EXISTS vectors (key INTEGER PRIMARY KEY, vec BLOB NOT NULL);   -- float16, the embedding cache
CREATE TABLE IF NOT EXISTS opted_out (author_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deleted_ids (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_lexical_delete (key INTEGER PRIMARY KEY);     -- dead, not yet deleted in tantivy
"""


def _chunks(seq: Sequence, n: int = _CHUNK) -> Iterator[Sequence]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class Store:
    def __init__(self, path: Path, *, readonly: bool = False):
        self.path = path
        self.readonly = readonly
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT), never implicit.
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a commit survives power loss, not just a killed process
        self.db.execute("PRAGMA secure_delete=ON")  # deleted posts' bytes are overwritten, not just unlinked
        self.db.execute("PRAGMA busy_timeout=30000")
        # Hits are checked at random keys: read the file through a memory map and keep a larger page cache.
        self.db.execute("PRAGMA mmap_size=4294967296")
        self.db.execute("PRAGMA cache_size=-65536")
        if not readonly:
            self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------------------------------------ transactions
    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # ------------------------------------------------------------------------------------------------ meta
    def get_meta(self, k: str, default=None):
        row = self.db.execute("SELECT v FROM meta WHERE k = ?", (k,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, k: str, v) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(k, v) VALUES (?, ?)", (k, json.dumps(v)))

    def all_meta(self) -> dict:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT k, v FROM meta")}

    # ------------------------------------------------------------------------------------------------ reading
    def max_key(self) -> int:
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'posts'").fetchone()
        return int(row[0]) if row else 0

    def live_posts(self) -> int:
        """The live posts, from the maintained counter (counted, for an index made before it, until a writer
        opens it)."""
        n = self.get_meta(LIVE_POSTS)
        return self.count_live() if n is None else n

    def seed_live_posts(self) -> None:
        """Writers: start the counter if this index predates it."""
        if self.get_meta(LIVE_POSTS) is None:
            self.set_meta(LIVE_POSTS, self.count_live())

    def _add_live(self, n: int) -> None:
        self.db.execute("UPDATE meta SET v = CAST(v AS INTEGER) + ? WHERE k = ?", (n, LIVE_POSTS))

    def count_live(self) -> int:
        return self.db.execute("SELECT count(*) FROM posts WHERE live = 1").fetchone()[0]

    def count_dead(self) -> int:
        return self.db.execute("SELECT count(*) FROM posts WHERE live = 0").fetchone()[0]

    def dead_keys(self) -> np.ndarray:
        return np.array([r[0] for r in self.db.execute("SELECT key FROM posts WHERE live = 0")], dtype=np.int64)

    def live_rows(self, keys: Sequence[int]) -> dict[int, dict]:
        """The rows of the keys that are live: the check every hit passes before it is returned. Opted-out
        authors and deleted ids are checked directly too, not only through the live flag."""
        out: dict[int, dict] = {}
        for part in _chunks(list(keys)):
            cur = self.db.execute(
                f"SELECT key, {', '.join(FIELDS)} FROM posts p WHERE key IN ({_marks(len(part))}) AND live = 1 "
                "AND NOT EXISTS (SELECT 1 FROM opted_out o WHERE o.author_id = p.author_id) "
                "AND NOT EXISTS (SELECT 1 FROM deleted_ids d WHERE d.id = p.id OR d.id = p.repost_of_id)",
                [int(k) for k in part])
            for row in cur:
                out[row[0]] = _row_dict(row[1:])
        return out

    def rows_by_id(self, ids: Sequence[str]) -> dict[str, dict]:
        out = {}
        for part in _chunks(list(ids)):
            for row in self.db.execute(f"SELECT live, {', '.join(FIELDS)} FROM posts WHERE id IN "
                                       f"({_marks(len(part))})", list(part)):
                d = _row_dict(row[1:])
                d["live"] = bool(row[0])
                out[d["id"]] = d
        return out

    def iter_live(self, above: int = 0, batch: int = 20_000) -> Iterator[list[tuple[int, dict]]]:
        """Live rows with key > `above`, in key order, in batches: what a derived index is rebuilt from."""
        last = above
        while True:
            rows = self.db.execute(f"SELECT key, {', '.join(FIELDS)} FROM posts WHERE key > ? AND live = 1 "
                                   "ORDER BY key LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            yield [(r[0], _row_dict(r[1:])) for r in rows]
            last = rows[-1][0]

    def iter_vectors(self, above: int = 0, live_only: bool = True, batch: int = 50_000
                     ) -> Iterator[tuple[np.ndarray, np.ndarray, list[dict]]]:
        """(keys, float16 vectors, the posts' filterable fields) with key > `above`, in key order."""
        last = above
        live = "AND p.live = 1" if live_only else ""
        cols = ("lang", "created_at", "reply_to_id", "quote_of_id", "repost_of_id", "like_count", "repost_count",
                "reply_count")
        while True:
            rows = self.db.execute(f"SELECT v.key, v.vec, p.urls != '[]', {', '.join('p.' + c for c in cols)} "
                                   f"FROM vectors v JOIN posts p ON p.key = v.key WHERE v.key > ? {live} "
                                   "ORDER BY v.key LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.stack([np.frombuffer(r[1], dtype=np.float16) for r in rows])
            yield keys, vecs, [{"urls": r[2], **dict(zip(cols, r[3:]))} for r in rows]
            last = int(keys[-1])

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Ids already in the store, live or not (an id is added once)."""
        found: set[str] = set()
        for part in _chunks(list(ids)):
            found.update(r[0] for r in self.db.execute(f"SELECT id FROM posts WHERE id IN ({_marks(len(part))})",
                                                       list(part)))
        return found

    def opted_out_among(self, authors: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for part in _chunks(list(authors)):
            found.update(r[0] for r in self.db.execute(
                f"SELECT author_id FROM opted_out WHERE author_id IN ({_marks(len(part))})", list(part)))
        return found

    def blocked_originals(self, ids: Sequence[str]) -> set[str]:
        """Of these reposted ids: those deleted, or whose post is in the store but not live (a repost carries the
        original's text, so it goes with it)."""
        found: set[str] = set()
        for part in _chunks(list(ids)):
            m = _marks(len(part))
            found.update(r[0] for r in self.db.execute(
                f"SELECT id FROM deleted_ids WHERE id IN ({m}) UNION SELECT id FROM posts WHERE id IN ({m}) "
                "AND live = 0", [*part, *part]))
        return found

    # ------------------------------------------------------------------------------------------------ writing
    def insert(self, rows: list[dict], vectors: np.ndarray | None) -> list[int]:
        """Insert rows (inside a transaction the caller holds); their keys, in order."""
        before = self.max_key()
        self.db.executemany(
            f"INSERT INTO posts({', '.join(FIELDS)}) VALUES ({_marks(len(FIELDS))})",
            ([json.dumps(r[f], ensure_ascii=False) if f in LIST_FIELDS else r[f] for f in FIELDS] for r in rows))
        keys = [r[0] for r in self.db.execute("SELECT key FROM posts WHERE key > ? ORDER BY key", (before,))]
        assert len(keys) == len(rows), "the store has one writer; keys of one insert are consecutive"
        self._add_live(len(keys))
        if vectors is not None:
            v16 = np.ascontiguousarray(vectors, dtype=np.float16)
            self.db.executemany("INSERT INTO vectors(key, vec) VALUES (?, ?)",
                                ((k, v16[i].tobytes()) for i, k in enumerate(keys)))
        return keys

    def mark_dead(self, where: str, params: Iterable) -> list[int]:
        """Set live = 0 on the live rows matching `where`; returns their keys (caller holds the transaction)."""
        keys = [r[0] for r in self.db.execute(f"SELECT key FROM posts WHERE live = 1 AND ({where})", list(params))]
        for part in _chunks(keys):
            self.db.execute(f"UPDATE posts SET live = 0 WHERE key IN ({_marks(len(part))})", list(part))
            self.db.executemany("INSERT OR IGNORE INTO pending_lexical_delete(key) VALUES (?)", ((k,) for k in part))
        self._add_live(-len(keys))
        return keys

    def add_deleted_ids(self, ids: Iterable[str]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO deleted_ids(id) VALUES (?)", ((i,) for i in ids))

    def add_opted_out(self, authors: Iterable[str]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO opted_out(author_id) VALUES (?)", ((a,) for a in authors))

    def pending_lexical_deletes(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT key FROM pending_lexical_delete ORDER BY key")]

    def clear_pending_lexical_deletes(self, keys: Sequence[int]) -> None:
        for part in _chunks(list(keys)):
            self.db.execute(f"DELETE FROM pending_lexical_delete WHERE key IN ({_marks(len(part))})", list(part))

    def purge_dead(self) -> int:
        """Remove dead posts and their vectors for good (secure_delete overwrites the freed pages). Their ids stay
        on the deletion list (or their authors on the opt-out list), so they are never added again."""
        n = self.db.execute("SELECT count(*) FROM posts WHERE live = 0").fetchone()[0]
        self.db.execute("DELETE FROM vectors WHERE key IN (SELECT key FROM posts WHERE live = 0)")
        self.db.execute("DELETE FROM posts WHERE live = 0")
        self.db.execute("DELETE FROM pending_lexical_delete")
        return n

    def checkpoint(self) -> None:
        """Fold the WAL into the database and truncate it (the WAL holds copies of overwritten pages)."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _row_dict(values: Sequence) -> dict:
    d = dict(zip(FIELDS, values))
    for f in LIST_FIELDS:
        d[f] = json.loads(d[f]) if d[f] else []
    return d
