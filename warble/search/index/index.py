"""`SearchIndex`: the embedded backend. The contract is in the package docstring (`warble.search.index`)."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from warble.errors import InputError
from warble.search import ast
from warble.search.index import analysis, embed
from warble.search.index.backend import CANDIDATES, MODES, Hit, SearchBackend, normalize_posts, unique_posts  # noqa: F401 (re-exported)
from warble.search.index.dense import EF_FILTERED_MAX, EF_SEARCH, FLAGS, NULL, Dense
from warble.search.index.lexical import Compiled, Lexical, day_ms, relax_text, remove_dir
from warble.search.index.store import FORMAT, LIVE_POSTS, STORE_FILE, Store

EXACT_MAX = 5_000  # a dense filter allowing at most this many posts is searched exactly, not through HNSW
# Above that, exact when cheaper: an exact scan computes `count` dot products, a filtered HNSW walk with its beam
# widened to n / selectivity about HNSW_COST x beam of them (at random places in memory). Measured (docs): HNSW_COST 8.
HNSW_COST = 8


def _exact_is_cheaper(count: int, total: int, n: int) -> bool:
    beam = min(max(EF_SEARCH, n * total / max(count, 1)), EF_FILTERED_MAX)
    return count < HNSW_COST * beam
_FILTER_FLAG = {"links": "links", "replies": "reply", "quote": "quote", "retweets": "repost"}
DENSE_SAVE_EVERY = 100_000  # vectors added since the last saved generation before `add` saves a new one
_GEN = re.compile(r"^(lexical|dense)-(\d{6})$")


def _by_score(cands: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Best first, equal scores by key (insertion order), as the PostgreSQL backend orders them."""
    return sorted(cands, key=lambda c: (-c[1], c[0]))


def _failpoint(name: str) -> None:
    """Crash tests: WARBLE_INDEX_FAILPOINT=name kills this process with SIGKILL at that point."""
    if os.environ.get("WARBLE_INDEX_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


class SearchIndex(SearchBackend):
    backend = "embedded"

    def __init__(self, path: Path, store: Store, *, readonly: bool, embedder: embed.Embedder | None = None,
                 model: str | Path | None = None, device: str = "auto"):
        self.path = path
        self.store = store
        self.readonly = readonly
        self._lock = threading.RLock()
        self._qcache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._unsaved = 0
        self.last_add: dict = {}
        meta = store.all_meta()
        self._init_from_meta(meta, FORMAT, embedder=embedder, model=model, device=device)
        self._seen = {}
        self.lex = None
        self.dense: Dense | None = None
        self._load(meta)
        if embedder is not None:
            self._check_embedder(embedder)

    # ------------------------------------------------------------------------------------------------ create, open
    @classmethod
    def create(cls, path: str | Path, embedder: embed.Embedder | str | None = "none", *,
               model: str | Path | None = None, device: str = "auto") -> "SearchIndex":
        """A new, empty index in directory `path` (which must not exist or be empty). `embedder`: an Embedder, or
        "none" (lexical only), "minilm", or "warble" (with `model`, a run directory)."""
        path = Path(path)
        if (path / STORE_FILE).exists():
            raise InputError(f"{path} already holds a search index: add to it (warble index --add) or remove it")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise InputError(f"{path} exists and is not an empty directory")
        own = False
        if embedder is None or isinstance(embedder, str):
            embedder = embed.load_embedder(embedder or "none", model=model, device=device)
            own = embedder is not None
        spec = embedder.spec() if embedder is not None else {"kind": "none"}
        probes = embed.probe(embedder) if embedder is not None else None
        path.mkdir(parents=True, exist_ok=True)
        Lexical(path / "lexical-000001", create=True).close()
        store = Store(path / STORE_FILE)
        store.begin()
        for k, v in {"format": FORMAT, "analyzer": analysis.ANALYZER_VERSION, "embedder": spec, "probes": probes,
                     "lexical_gen": 1, "lexical_upto": 0, "dense_gen": 0, "change_seq": 0, "newest_ms": None,
                     LIVE_POSTS: 0,
                     "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}.items():
            store.set_meta(k, v)
        store.commit()  # the index exists from here
        idx = cls(path, store, readonly=False, embedder=embedder, device=device)
        idx._own_embedder = own
        idx._embedder_checked = True
        return idx

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False, embedder: embed.Embedder | None = None,
             model: str | Path | None = None, device: str = "auto") -> "SearchIndex":
        """Open an index. Writable (default): takes the index's single writer lock and reconciles the derived
        indexes with the store. `readonly`: no lock, no writes (any number of readers beside one writer).
        The embedder is loaded on first need from the recorded spec (`model` overrides the recorded run
        directory) and must reproduce the recorded probe vectors."""
        path = Path(path)
        if not (path / STORE_FILE).is_file():
            raise InputError(f"{path} is not a Warble search index (no {STORE_FILE}); build one with `warble index`")
        store = Store(path / STORE_FILE, readonly=readonly)
        try:
            return cls(path, store, readonly=readonly, embedder=embedder, model=model, device=device)
        except BaseException:
            store.close()
            raise

    def _gen_dir(self, kind: str, gen: int) -> Path:
        return self.path / f"{kind}-{gen:06d}"

    def _load(self, meta: dict) -> None:
        """Open the current generations, catch the dense index up with the store, and (writable) reconcile."""
        lex_dir = self._gen_dir("lexical", meta["lexical_gen"])
        if not lex_dir.is_dir():
            raise InputError(f"{self.path}: lexical index {lex_dir.name} is missing; rebuild the index")
        self.lex = Lexical(lex_dir)
        if not self.readonly:
            try:
                self.lex.writer
            except ValueError:  # tantivy: "Failed to acquire Lockfile: LockBusy"
                raise InputError(f"{self.path}: another process (or handle) is writing this index") from None
            self._remove_strays(meta)
            self._reconcile_lexical(meta)
            self.store.seed_live_posts()  # an index made before the counter existed
        dead = self.store.dead_keys()
        self._dead = set(dead.tolist())
        self._load_dense(meta, dead)
        self._seen = {k: meta.get(k) for k in ("lexical_gen", "dense_gen", "change_seq", "lexical_upto")}
        self._seen["max_key"] = self.store.max_key()

    def _load_dense(self, meta: dict, dead: np.ndarray) -> None:
        if self.spec["kind"] == "none":
            self.dense = None
            return
        gen = meta.get("dense_gen") or 0
        self.dense = Dense.load(self._gen_dir("dense", gen), mmap=self.readonly) if gen else Dense(self.spec["dim"])
        self._catch_up_dense()
        self.dense.mark_dead(dead)

    def _catch_up_dense(self) -> int:
        """Add the vectors the store holds beyond the dense index's watermark (no re-embedding)."""
        n = 0
        for keys, vecs, rows in self.store.iter_vectors(above=self.dense.upto):
            self.dense.add(keys, vecs, rows)
            n += len(keys)
        self._unsaved += n
        return n

    def _remove_strays(self, meta: dict) -> None:
        """Generation directories a crash left behind (written, never made current)."""
        current = {("lexical", meta["lexical_gen"]), ("dense", meta.get("dense_gen") or 0)}
        for p in self.path.iterdir():
            m = _GEN.match(p.name)
            if m and (m.group(1), int(m.group(2))) not in current:
                remove_dir(p)

    def _reconcile_lexical(self, meta: dict) -> None:
        """Re-index from the store what tantivy may lack (posts above its watermark), apply pending deletes."""
        upto, top = meta.get("lexical_upto") or 0, self.store.max_key()
        pending = self.store.pending_lexical_deletes()
        if top <= upto and not pending:
            return
        if top > upto:
            self.lex.delete_above(upto)  # a commit that landed after the watermark: no duplicates
            for batch in self.store.iter_live(above=upto):
                self.lex.add(batch)
        self.lex.delete_keys(pending)
        self.lex.commit()
        self.store.set_meta("lexical_upto", top)
        self.store.clear_pending_lexical_deletes(pending)
        meta["lexical_upto"] = top

    def refresh(self) -> None:
        """Readers: pick up what another process committed (new posts, deletes, a compaction). Cheap when nothing
        changed; the writer's own changes are applied as it makes them."""
        if not self.readonly:
            return
        with self._lock:
            meta = {k: self.store.get_meta(k) for k in ("lexical_gen", "dense_gen", "change_seq", "lexical_upto")}
            top = self.store.max_key()
            if meta["lexical_gen"] != self._seen["lexical_gen"] or meta["dense_gen"] != self._seen["dense_gen"]:
                self._load(self.store.all_meta())
                return
            if meta["lexical_upto"] != self._seen["lexical_upto"] or meta["change_seq"] != self._seen["change_seq"]:
                self.lex.reload()
            if self.dense is not None and top != self._seen["max_key"]:
                self._catch_up_dense()
            if meta["change_seq"] != self._seen["change_seq"]:  # posts were killed: the store's dead list again
                dead = self.store.dead_keys()
                self._dead = set(dead.tolist())
                if self.dense is not None:
                    self.dense.mark_dead(dead)
            self._seen.update(meta, max_key=top)

    # ------------------------------------------------------------------------------------------------ embedder
    def _query_vector(self, text: str) -> np.ndarray:
        v = self._qcache.get(text)
        if v is None:
            v = self.embedder.embed([text])[0]
            v = v.astype(np.float16).astype(np.float32)  # as the posts' vectors are stored
            self._qcache[text] = v
            if len(self._qcache) > 256:
                self._qcache.popitem(last=False)
        else:
            self._qcache.move_to_end(text)
        return v

    # ------------------------------------------------------------------------------------------------ writing
    def _writable(self) -> None:
        if self.readonly:
            raise InputError(f"{self.path} is open read-only")

    def _existing_ids(self, ids: list[str]) -> set[str]:
        return self.store.existing_ids(ids)

    def _opted_out_among(self, authors: list[str]) -> set[str]:
        return self.store.opted_out_among(authors)

    def _blocked_among(self, ids: list[str]) -> set[str]:
        return self.store.blocked_originals(ids)

    def add(self, posts, *, progress: bool = False) -> int:
        """Add posts (pyarrow Table/RecordBatch with the post schema's columns, or dicts); returns how many were
        added. Posts already in the index, on the deletion list, by opted-out authors, or reposts of blocked posts
        are skipped (`last_add` counts them). Once this returns, the posts are durable and searchable."""
        self._writable()
        rows = normalize_posts(posts)
        with self._lock:
            accepted = self._screen(rows)
            if not accepted:
                return 0
            vectors = None
            if self.dense is not None:
                vectors = embed.embed_all(self.embedder, [r["text"] for r in accepted], progress=progress)
            newest = max((r["created_at"] for r in accepted if r["created_at"] is not None), default=None)
            self.store.begin()
            try:
                keys = self.store.insert(accepted, vectors)
                old = self.store.get_meta("newest_ms")
                if newest is not None and (old is None or newest > old):
                    self.store.set_meta("newest_ms", newest)
                _failpoint("add.before_commit")
                self.store.commit()  # the commit point: acknowledged from here
            except BaseException:
                self.store.rollback()
                raise
            _failpoint("add.after_store")
            self.lex.add(zip(keys, accepted))
            self.lex.commit()
            _failpoint("add.after_lexical")
            self.store.set_meta("lexical_upto", keys[-1])
            if self.dense is not None:
                self.dense.add(np.asarray(keys), vectors, accepted)
                self._unsaved += len(keys)
                if self._unsaved >= DENSE_SAVE_EVERY:
                    self.save_dense()
            return len(accepted)

    def save_dense(self) -> None:
        """Write the dense index as a new generation and make it current (also done by `close` and `add`)."""
        self._writable()
        with self._lock:
            if self.dense is None or not self._unsaved:
                return
            gen = (self.store.get_meta("dense_gen") or 0) + 1
            d = self._gen_dir("dense", gen)
            remove_dir(d)
            self.dense.save(d)
            _failpoint("dense.before_switch")
            self.store.set_meta("dense_gen", gen)  # one statement: its own transaction
            remove_dir(self._gen_dir("dense", gen - 1))
            self._unsaved = 0

    def _kill(self, where: str, params: Sequence, extra) -> list[int]:
        """Mark matching posts (and reposts of dead posts) dead in one store transaction, then drop them from
        the derived indexes' results. Returns the keys killed."""
        self.store.begin()
        try:
            extra()
            keys = self.store.mark_dead(where, params)
            # reposts carry the original's text: they go with it
            keys += self.store.mark_dead("repost_of_id IN (SELECT id FROM deleted_ids) OR repost_of_id IN "
                                         "(SELECT id FROM posts WHERE live = 0)", ())
            self.store.set_meta("change_seq", (self.store.get_meta("change_seq") or 0) + 1)
            self.store.commit()  # gone from results from here (the store check)
        except BaseException:
            self.store.rollback()
            raise
        self._dead.update(keys)
        if keys:
            self.lex.delete_keys(keys)
            self.lex.commit()
            self.store.clear_pending_lexical_deletes(keys)
            if self.dense is not None:
                self.dense.mark_dead(keys)
        return keys

    def _temp_ids(self, table: str, ids: Iterable[str]) -> None:
        self.store.db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (v TEXT PRIMARY KEY)")
        self.store.db.execute(f"DELETE FROM {table}")
        self.store.db.executemany(f"INSERT OR IGNORE INTO {table}(v) VALUES (?)", ((str(i),) for i in ids))

    def delete(self, ids: Iterable[str]) -> int:
        """Delete posts by id (and reposts of them): gone from results at once, from disk at `compact()`; the ids
        are remembered, so adding them again is refused. Returns how many indexed posts went."""
        self._writable()
        ids = [str(i) for i in ids]
        with self._lock:
            def extra():
                self.store.add_deleted_ids(ids)
                self._temp_ids("tmp_ids", ids)
            return len(self._kill("id IN (SELECT v FROM tmp_ids)", (), extra))

    def apply_compliance(self, opt_out_authors: Iterable[str] = (), deleted_posts: Iterable[str] = ()) -> dict:
        """Apply compliance lists (`warble.data.compliance.ComplianceLists`: opted-out author ids, deleted post
        ids): their posts, and reposts of them, leave results at once and the disk at `compact()`; later adds
        refuse them. Returns counts."""
        self._writable()
        authors, ids = [str(a) for a in opt_out_authors], [str(i) for i in deleted_posts]
        with self._lock:
            def extra():
                self.store.add_opted_out(authors)
                self.store.add_deleted_ids(ids)
                self._temp_ids("tmp_ids", ids)
                self._temp_ids("tmp_authors", authors)
            keys = self._kill("id IN (SELECT v FROM tmp_ids) OR author_id IN (SELECT v FROM tmp_authors)", (), extra)
            return {"opted_out_authors": len(set(authors)), "deleted_posts": len(set(ids)), "removed": len(keys)}

    def compact(self) -> dict:
        """Remove dead posts from disk: rebuild tantivy and the HNSW index from the store's live posts as new
        generations, switch to them and delete the dead rows in one store transaction, then delete the old
        generations and truncate the store's WAL."""
        self._writable()
        with self._lock:
            t0 = time.perf_counter()
            dead = self.store.count_dead()
            if not dead:
                return {"removed": 0, "seconds": 0.0}
            meta = self.store.all_meta()
            lgen, dgen = meta["lexical_gen"] + 1, (meta.get("dense_gen") or 0) + 1
            remove_dir(self._gen_dir("lexical", lgen))
            new_lex = Lexical(self._gen_dir("lexical", lgen), create=True)
            for batch in self.store.iter_live():
                new_lex.add(batch)
            new_lex.commit()
            new_dense = None
            if self.dense is not None:
                new_dense = Dense(self.dense.dim)
                for keys, vecs, rows in self.store.iter_vectors(live_only=True):
                    new_dense.add(keys, vecs, rows)
                remove_dir(self._gen_dir("dense", dgen))
                new_dense.save(self._gen_dir("dense", dgen))
            _failpoint("compact.before_switch")
            self.store.begin()
            try:
                removed = self.store.purge_dead()
                self.store.set_meta("lexical_gen", lgen)
                self.store.set_meta("lexical_upto", self.store.max_key())
                if new_dense is not None:
                    self.store.set_meta("dense_gen", dgen)
                self.store.set_meta("change_seq", (meta.get("change_seq") or 0) + 1)
                self.store.commit()
            except BaseException:
                self.store.rollback()
                raise
            self._dead = set()  # the dead rows are gone from the store (keys are never reused)
            old_lex = self.lex
            self.lex = new_lex
            old_lex.close()
            remove_dir(old_lex.path)
            if new_dense is not None:
                self.dense = new_dense
                self._unsaved = 0
                remove_dir(self._gen_dir("dense", dgen - 1))
            self.store.checkpoint()
            self._seen.update(lexical_gen=lgen, dense_gen=dgen if new_dense is not None else meta.get("dense_gen"))
            return {"removed": removed, "seconds": round(time.perf_counter() - t0, 3)}

    # ------------------------------------------------------------------------------------------------ search
    # ------------------------------------------------------------------------------------------------ search hooks
    # `search` is SearchBackend's (backend.py): validation, fusion, boosts, the final store check, highlights.
    location = property(lambda self: str(self.path))
    has_dense = property(lambda self: self.dense is not None)

    def _lexical_candidates(self, node: ast.Node | None, n: int) -> list[tuple[int, float]]:
        return self._lexical(self.lex.compiler.compile(node), n)

    def _dense_candidates(self, text: str, filt: ast.Node | None, n: int) -> list[tuple[int, float]]:
        return self._dense(text, filt, n)

    def _live_rows(self, keys: list[int]) -> dict[int, dict]:
        return self.store.live_rows(keys)

    def _newest_ms(self) -> int | None:
        return self.store.get_meta("newest_ms")

    def _candidates(self, node: ast.Node | None, n: int, use_lex: bool, use_dense: bool
                    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """Both lists, checked against the store in one query (the derived indexes can hold posts the store has
        killed a moment ago); a lexical list that lost hits to the check is fetched again deeper."""
        compiled = self.lex.compiler.compile(node) if use_lex else None
        lex = self.lex.search(compiled, n) if use_lex else []
        dense = self._dense_raw(" ".join(ast.text_terms(node)), relax_text(node), n) if use_dense else []
        live = self._live_keys({k for k, _ in lex} | {k for k, _ in dense})
        kept = [(k, s) for k, s in lex if k in live]
        if len(kept) < len(lex) and len(lex) == n:
            kept = self._lexical(compiled, n)
        elif compiled is not None and compiled.scored:
            kept = _by_score(kept)
        return kept, _by_score([(k, s) for k, s in dense if k in live])

    def _live_keys(self, keys) -> set[int]:
        """The candidates that are live posts, by the store's list of dead posts as this search began (`refresh`
        reads it again whenever the store's change counter moved; this handle's own deletes update it at once). The
        hits returned are then read from the store with the full check (`_live_rows`), so a post killed during
        the search is not returned either."""
        return {k for k in keys if k not in self._dead}

    def _lexical(self, compiled: Compiled, n: int) -> list[tuple[int, float]]:
        """Top n live (key, BM25) from tantivy, each checked against the store's dead list (`_live_keys`); fetches
        deeper while hits are dead (deleted in the store, not yet in tantivy)."""
        fetch = n
        while True:
            hits = self.lex.search(compiled, fetch)
            live = self._live_keys([k for k, _ in hits])
            kept = [(k, s) for k, s in hits if k in live]
            if len(kept) >= n or len(hits) < fetch:
                return _by_score(kept[:n]) if compiled.scored else kept[:n]  # unscored: newest first
            fetch *= 4

    def _dense(self, text: str, filt: ast.Node | None, n: int) -> list[tuple[int, float]]:
        """`_dense_raw`, checked against the store."""
        cands = self._dense_raw(text, filt, n)
        live = self._live_keys([k for k, _ in cands])
        return _by_score([(k, s) for k, s in cands if k in live])

    def _dense_raw(self, text: str, filt: ast.Node | None, n: int) -> list[tuple[int, float]]:
        """Top n (key, cosine) for the text among the posts matching `filt`, not yet checked against the store
        (pre-filtering: the filter is a mask over the dense slots, `_slot_mask`). Unfiltered: HNSW over the live
        slots. Filtered: the allowed slots are ranked exactly when that is the cheaper way (`_exact_is_cheaper`),
        else HNSW with the mask as its selector (the beam widened by 1/selectivity). A walk that comes back less than
        half full falls back to the exact scan (a fused list needs enough candidates, not exactly n)."""
        q = self._query_vector(text)
        if filt is None:
            cands = self.dense.search(q, n)
            if len(cands) < min(n, self.dense.nlive) // 2:  # a walk trapped among near-identical vectors
                cands = self.dense.exact(q, self.dense.live, n)
            return cands
        allowed = self._slot_mask(filt) & self.dense.live
        count = int(np.count_nonzero(allowed))
        if count <= EXACT_MAX or _exact_is_cheaper(count, self.dense.ntotal, n):
            return self.dense.exact(q, allowed, n)
        cands = self.dense.search(q, n, allowed=allowed, count=count)
        if len(cands) < n // 2:
            cands = self.dense.exact(q, allowed, n)
        return cands

    def _slot_mask(self, node: ast.Node) -> np.ndarray:
        """The dense slots whose posts match a (pruned) query node: language, time, counts and kinds from the dense
        index's own columns; hashtags, mentions, authors and words from tantivy (their matching keys)."""
        a = self.dense.attrs
        if isinstance(node, ast.And):
            m = self._slot_mask(node.children[0])
            for c in node.children[1:]:
                m &= self._slot_mask(c)
            return m
        if isinstance(node, ast.Or):
            m = self._slot_mask(node.children[0])
            for c in node.children[1:]:
                m |= self._slot_mask(c)
            return m
        if isinstance(node, ast.Not):
            return ~self._slot_mask(node.child)
        if isinstance(node, ast.Lang):
            code = self.dense.langs.get(analysis.norm_name(node.code))
            return a["lang"] == code if code is not None else np.zeros(self.dense.ntotal, dtype=bool)
        if isinstance(node, ast.Since):
            return a["created_at"] >= day_ms(node.date)
        if isinstance(node, ast.Until):
            return (a["created_at"] < day_ms(node.date)) & (a["created_at"] != NULL)
        if isinstance(node, ast.MinCount) and node.field in a:
            return a[node.field] >= int(node.n)
        if isinstance(node, ast.Filter) and node.kind in _FILTER_FLAG:
            return (a["flags"] & FLAGS[_FILTER_FLAG[node.kind]]) != 0
        fq = self.lex.compiler.compile(node).query
        return self.dense.mask_of_keys(self.lex.matching_keys(fq, self.lex.count(fq)))

    # ------------------------------------------------------------------------------------------------ the rest
    def iter_posts(self, above: int = 0, batch: int = 20_000):
        return self.store.iter_live(above=above, batch=batch)

    def max_key(self) -> int:
        return self.store.max_key()

    def live_posts(self) -> int:
        return self.store.live_posts()

    def get(self, ids: Sequence[str]) -> dict[str, dict]:
        """Live posts by id (deleted or opted-out ones are absent), as the store holds them."""
        return {i: {k: v for k, v in r.items() if k != "live"}
                for i, r in self.store.rows_by_id(list(ids)).items() if r["live"]}

    def stats(self) -> dict:
        def du(p: Path) -> int:
            return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else 0

        meta = self.store.all_meta()
        store_bytes = sum(f.stat().st_size for f in self.path.glob(STORE_FILE + "*"))
        lex_bytes = du(self.lex.path)
        dense_bytes = du(self._gen_dir("dense", meta.get("dense_gen") or 0)) if meta.get("dense_gen") else 0
        s = self.lex.searcher()
        return {
            "path": str(self.path), "format": FORMAT, "analyzer": meta["analyzer"], "embedder": self.spec,
            "posts": self.store.count_live(), "dead_not_compacted": self.store.count_dead(),
            "max_key": self.store.max_key(), "lexical_docs": s.num_docs, "lexical_segments": s.num_segments,
            "dense_vectors": self.dense.ntotal if self.dense is not None else 0,
            "dense_live": self.dense.nlive if self.dense is not None else 0,
            "dense_unsaved": self._unsaved if self.dense is not None else 0,
            "opted_out_authors": self.store.db.execute("SELECT count(*) FROM opted_out").fetchone()[0],
            "deleted_ids": self.store.db.execute("SELECT count(*) FROM deleted_ids").fetchone()[0],
            "size_bytes": {"store": store_bytes, "lexical": lex_bytes, "dense": dense_bytes,
                           "total": store_bytes + lex_bytes + dense_bytes},
        }

    def close(self) -> None:
        with self._lock:
            if self.store is None:
                return
            if not self.readonly:
                self.save_dense()
                self.lex.close()
                self.store.checkpoint()
            if self._own_embedder and self._embedder is not None:
                self._embedder.close()
            self.store.close()
            self.store = None
