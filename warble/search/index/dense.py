"""The dense index: faiss HNSW (inner product over L2-normalised vectors) with tombstones.

Why faiss rather than usearch (../shared/MEASURED.md, 200k x 384, M=16): faiss answers in 0.22 ms at recall@10 0.999,
usearch in 0.40 ms at 0.993. usearch can remove vectors and faiss's HNSW cannot, but removal is not what makes a
deleted post disappear here: the store check does that at once, and compaction rebuilds this index from the store
so the deleted vectors leave the disk. What faiss adds is search restricted to a set of ids inside the graph walk
(`IDSelectorBitmap`), which serves both the tombstones (dead slots never take a top-k place) and the query filters.

Vectors live in slots 0..n-1 in insertion order, which is key order (adds and rebuilds go by increasing key), so
`keys` is sorted and a key's slot is a binary search. Vectors are rounded to float16 before they are added, as the
store caches them, so an index caught up from the store equals one built live.

Beside each vector the index keeps the post's filterable columns (`ATTRS`: language, time, reply/quote/repost/links
flags, engagement counts) as numpy arrays by slot, so the query's filters on them become a boolean mask over the
slots in a few vectorised operations, which faiss then applies inside the graph walk (or, for a small allowed set,
an exact scan of just those vectors). Other filters (hashtags, mentions, authors, excluded words) come from tantivy.

On disk: a generation directory `dense-NNNNNN/` with `hnsw.faiss`, `keys.npy`, `attrs.npz` and `meta.json` (`upto`:
every vector with a key up to it is in the index). The store names the current generation; a new one is written beside
it and becomes current with one store transaction, so a crash leaves the old one or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import faiss
import numpy as np

from warble.search.index import analysis

M = 16  # graph degree
EF_CONSTRUCTION = 80
EF_SEARCH = 64  # recall@10 0.999 at 200k posts (MEASURED.md)
EF_FILTERED_MAX = 2048  # a filtered walk widens its beam by 1/selectivity, up to this
NULL = -(2**62)  # unknown time or count: matches no comparison
FLAGS = {"reply": 1, "quote": 2, "repost": 4, "links": 8}
ATTRS = {"lang": np.int16, "created_at": np.int64, "flags": np.uint8, "like_count": np.int64,
         "repost_count": np.int64, "reply_count": np.int64}


def attr_columns(rows: list[dict], langs: dict[str, int]) -> dict[str, np.ndarray]:
    """The filterable columns of posts (store rows), by slot; new language codes are added to `langs`."""
    def code(lang):
        lang = analysis.norm_name(lang or "")  # as tantivy's lang field and the Lang node hold it
        if lang not in langs:
            langs[lang] = len(langs)
        return langs[lang]

    cols = {
        "lang": np.fromiter((code(r.get("lang")) for r in rows), np.int16, len(rows)),
        "created_at": np.fromiter((NULL if r.get("created_at") is None else r["created_at"] for r in rows), np.int64,
                                  len(rows)),
        "flags": np.fromiter((FLAGS["reply"] * bool(r.get("reply_to_id")) + FLAGS["quote"] * bool(r.get("quote_of_id"))
                              + FLAGS["repost"] * bool(r.get("repost_of_id")) + FLAGS["links"] * bool(r.get("urls"))
                              for r in rows), np.uint8, len(rows)),
    }
    for f in ("like_count", "repost_count", "reply_count"):
        cols[f] = np.fromiter((NULL if r.get(f) is None else r[f] for r in rows), np.int64, len(rows))
    return cols


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Dense:
    def __init__(self, dim: int):
        self.dim = dim
        self.index = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = EF_CONSTRUCTION
        self.keys = np.zeros(0, dtype=np.int64)
        self.upto = 0  # every vector with key <= upto is in the index
        self.live = np.zeros(0, dtype=bool)  # per slot; False = tombstone
        self.attrs = {name: np.zeros(0, dtype=t) for name, t in ATTRS.items()}
        self.langs: dict[str, int] = {}  # language code -> the number in attrs["lang"]
        self._bitmap: np.ndarray | None = None

    # ------------------------------------------------------------------------------------------------ building
    def add(self, keys: np.ndarray, vectors: np.ndarray, rows: list[dict]) -> None:
        """Append vectors (and their posts' filter columns) whose keys are all above the current ones."""
        keys = np.asarray(keys, dtype=np.int64)
        if not len(keys):
            return
        if len(self.keys) and keys[0] <= self.keys[-1]:
            raise ValueError("dense vectors must be added in increasing key order")
        cols = attr_columns(rows, self.langs)
        x = np.ascontiguousarray(np.asarray(vectors, dtype=np.float16), dtype=np.float32)
        self.index.add(x)
        self.keys = np.concatenate([self.keys, keys])
        self.attrs = {name: np.concatenate([self.attrs[name], cols[name]]) for name in ATTRS}
        self.live = np.concatenate([self.live, np.ones(len(keys), dtype=bool)])
        self.upto = max(self.upto, int(keys[-1]))
        self._bitmap = None

    def mark_dead(self, keys) -> int:
        slots = self.slots(keys)
        slots = slots[slots >= 0]
        self.live[slots] = False
        self._bitmap = None
        return len(slots)

    def slots(self, keys) -> np.ndarray:
        """Slot of each key, -1 where the index does not hold it."""
        keys = np.asarray(keys, dtype=np.int64)
        if not len(self.keys) or not len(keys):
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.searchsorted(self.keys, keys)
        pos_c = np.minimum(pos, len(self.keys) - 1)
        return np.where(self.keys[pos_c] == keys, pos_c, -1)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def nlive(self) -> int:
        return int(self.live.sum())

    # ------------------------------------------------------------------------------------------------ search
    def _selector(self, allowed: np.ndarray | None = None):
        if allowed is None:
            if self._bitmap is None:
                self._bitmap = np.packbits(self.live, bitorder="little")
            bits = self._bitmap
        else:
            bits = np.packbits(allowed, bitorder="little")
        return faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits)), bits  # n: the bitmap's bytes

    def search(self, q: np.ndarray, k: int, allowed: np.ndarray | None = None, count: int | None = None
               ) -> list[tuple[int, float]]:
        """(key, cosine) of the k nearest live vectors (approximate: HNSW), among the `allowed` slots if given
        (a boolean mask that already excludes dead slots; `count`: its number of True, if known)."""
        if not self.ntotal or k < 1:
            return []
        sel, bits = self._selector(allowed)  # `bits` must stay alive while faiss reads it
        ef, cap = max(EF_SEARCH, k), max(EF_FILTERED_MAX, k)
        if allowed is not None:
            count = int(np.count_nonzero(allowed)) if count is None else count
            ef = min(max(ef, int(k * self.ntotal / max(count, 1))), cap)
        x = np.asarray(q, dtype=np.float32).reshape(1, -1)
        while True:
            d, i = self.index.search(x, k, params=faiss.SearchParametersHNSW(sel=sel, efSearch=ef))
            # A walk can come back short: the filter cuts the graph where the embedding clusters (by language, say),
            # or the walk is trapped among near-identical vectors whose links point only at each other. Widen the
            # beam; the caller falls back to an exact scan if that is not enough.
            if np.count_nonzero(i[0] >= 0) >= min(k, self.ntotal) or ef >= cap:
                break
            ef = min(ef * 4, cap)
        del bits
        return [(int(self.keys[s]), float(v)) for s, v in zip(i[0], d[0]) if s >= 0]

    def vectors(self) -> np.ndarray:
        """The stored vectors, [ntotal, dim], a view into faiss's memory (no copy)."""
        flat = faiss.downcast_index(self.index.storage)
        n = self.ntotal
        if not n:
            return np.zeros((0, self.dim), dtype=np.float32)
        return faiss.rev_swig_ptr(flat.get_xb(), n * self.dim).reshape(n, self.dim)

    def exact(self, q: np.ndarray, allowed: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(key, cosine) of the k nearest among the `allowed` slots (a boolean mask), exactly: gathering a small
        set's vectors, or one matrix-vector product over all of them for a large one (no copy; ~15 ms at 1M x 96)."""
        q = np.asarray(q, dtype=np.float32).ravel()
        slots = np.flatnonzero(allowed)
        n_allowed = len(slots)
        if not n_allowed:
            return []
        if n_allowed * 8 < self.ntotal:
            sims = self.vectors()[slots] @ q
        else:
            sims = np.where(allowed, self.vectors() @ q, -np.inf)
            slots = np.arange(self.ntotal)
        k = min(k, n_allowed)
        top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(self.keys[slots[t]]), float(sims[t])) for t in top]

    def mask_of_keys(self, keys) -> np.ndarray:
        m = np.zeros(self.ntotal, dtype=bool)
        s = self.slots(keys)
        m[s[s >= 0]] = True
        return m

    # ------------------------------------------------------------------------------------------------ files
    def save(self, gen_dir: Path) -> None:
        """Write this index as generation directory `gen_dir` (new), every file synced; the caller then makes the
        store point at it."""
        gen_dir.mkdir(parents=True, exist_ok=False)
        faiss.write_index(self.index, str(gen_dir / "hnsw.faiss"))
        np.save(gen_dir / "keys.npy", self.keys)
        np.savez(gen_dir / "attrs.npz", **self.attrs)
        (gen_dir / "meta.json").write_text(json.dumps({"dim": self.dim, "upto": self.upto, "ntotal": self.ntotal,
                                                       "langs": self.langs}))
        for name in ("hnsw.faiss", "keys.npy", "attrs.npz", "meta.json"):
            with open(gen_dir / name, "rb+") as f:
                os.fsync(f.fileno())
        _fsync_dir(gen_dir)
        _fsync_dir(gen_dir.parent)

    @classmethod
    def load(cls, gen_dir: Path, *, mmap: bool = False) -> "Dense":
        meta = json.loads((gen_dir / "meta.json").read_text())
        d = cls(meta["dim"])
        d.index = faiss.read_index(str(gen_dir / "hnsw.faiss"), faiss.IO_FLAG_MMAP if mmap else 0)
        d.keys = np.load(gen_dir / "keys.npy")
        if len(d.keys) != d.index.ntotal:
            raise ValueError(f"{gen_dir}: {len(d.keys)} keys for {d.index.ntotal} vectors")
        d.upto = int(meta["upto"])
        d.langs = dict(meta["langs"])
        with np.load(gen_dir / "attrs.npz") as z:
            d.attrs = {name: z[name] for name in ATTRS}
        if any(len(a) != len(d.keys) for a in d.attrs.values()):
            raise ValueError(f"{gen_dir}: filter columns do not match the vectors")
        d.live = np.ones(len(d.keys), dtype=bool)
        return d

    def size_bytes(self) -> int:
        return self.ntotal * (self.dim * 4 + M * 2 * 4 + 8)


def set_threads(n: int | None) -> None:
    if n:
        faiss.omp_set_num_threads(n)
