"""Building a search index from a corpus written by `warble ingest` (what `warble index` runs)."""

from __future__ import annotations

import shutil
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
from tqdm import tqdm

from warble.data.compliance import ComplianceLists
from warble.errors import InputError
from warble.search.index.backend import create_index, open_index
from warble.search.index.store import FIELDS, STORE_FILE


def _corpus_parquet(corpus: str) -> Path:
    root = Path(corpus)
    if not root.is_dir():
        raise InputError(f"corpus {corpus} does not exist")
    data = root / "corpus"
    if not data.is_dir() or not any(data.rglob("*.parquet")):
        raise InputError(f"{corpus} is not a Warble corpus (no corpus/**/*.parquet); make one with `warble ingest`")
    return data


def _exists(backend: str, out: Path | None, dsn: str | None, schema: str) -> bool:
    if backend == "embedded":
        return (out / STORE_FILE).exists()
    from warble.search.index.postgres import PostgresIndex

    conn = PostgresIndex._connect(dsn, schema)
    try:
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None
    finally:
        conn.close()


def _drop_schema(dsn: str, schema: str) -> None:
    from warble.search.index.postgres import PostgresIndex

    conn = PostgresIndex._connect(dsn, schema)
    try:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        conn.close()


def index_corpus(corpus: str | None, out_dir: str | Path | None, *, model: str | None = None,
                 embedder: str | None = None, add: bool = False, delete_files: list[str] | None = None,
                 opt_out_files: list[str] | None = None, compact: bool = False, overwrite: bool = False,
                 batch: int = 20_000, progress: bool = True, backend: str = "embedded", dsn: str | None = None,
                 schema: str = "warble") -> dict:
    """`warble index`: build an index over a corpus (or add one to it), apply deletions and opt-outs (the corpus's
    compliance/ lists and the given files, before anything is added), optionally compact; returns the summary.
    backend "embedded": the index is the directory `out_dir`; "postgres": schema `schema` of the database `dsn`."""
    if backend not in ("embedded", "postgres"):
        raise InputError(f"--backend must be embedded or postgres, got {backend!r}")
    if backend == "embedded" and out_dir is None:
        raise InputError("--out IDX is needed (the index directory)")
    if backend == "postgres" and not dsn:
        raise InputError("--backend postgres needs --dsn postgresql://USER@HOST:PORT/DB")
    out = Path(out_dir) if backend == "embedded" else None
    where = str(out) if out is not None else f"schema {schema} at the --dsn server"
    if batch < 1:
        raise InputError("--batch must be at least 1")
    if not corpus and not (delete_files or opt_out_files or compact):
        raise InputError("give a CORPUS_DIR to index, or --delete/--opt-out/--compact for an existing index")
    if add and not corpus:
        raise InputError("--add needs a CORPUS_DIR to add")
    kind = embedder or ("warble" if model else "none")
    if model and kind != "warble":
        raise InputError(f"--model is the Warble embedder's run; it does not go with --embedder {kind}")
    data = _corpus_parquet(corpus) if corpus else None
    lists = ComplianceLists.load(opt_out_files or [], delete_files or [])  # read before anything is written
    if data is not None:
        lists = lists.merged(ComplianceLists.from_dir(Path(corpus) / "compliance"))
    exists = _exists(backend, out, dsn, schema)
    location = out if backend == "embedded" else schema
    if data is not None and not add:
        if exists and not overwrite:
            raise InputError(f"{where} already holds a search index: use --add to add posts, or --overwrite")
        if overwrite and backend == "embedded" and out.exists():
            shutil.rmtree(out)
        elif overwrite and backend == "postgres" and exists:
            _drop_schema(dsn, schema)
        idx = create_index(location, kind, backend=backend, dsn=dsn, model=model)
    else:
        if not exists:
            raise InputError(f"{out} is not a Warble search index (no {STORE_FILE}); build one first"
                             if out is not None else f"{where} holds no Warble search index; build one first")
        idx = open_index(location, backend=backend, dsn=dsn, model=model)
    t0 = time.perf_counter()
    summary = {"index": str(out) if out is not None else f"postgres:{schema}", "backend": backend, "corpus": corpus,
               "embedder": idx.spec, "added": 0, "duplicates": 0, "refused_compliance": 0}
    try:
        if lists:
            summary["compliance"] = idx.apply_compliance(lists.opted_out_authors, lists.deleted_posts)
        if data is not None:
            dset = ds.dataset(data, format="parquet")
            cols = [f for f in FIELDS if f in dset.schema.names]
            # a new PostgreSQL index is loaded with its text and vector indexes built once at the end
            bulk = idx.bulk_load() if backend == "postgres" and not add else nullcontext()
            with bulk, tqdm(total=dset.count_rows(), unit="post", desc="index", disable=not progress, file=sys.stderr,
                      dynamic_ncols=True) as bar:
                pending: list = []

                def flush() -> None:  # one add (one commit) per --batch posts, whatever the Parquet files' sizes
                    idx.add(pa.Table.from_batches(pending))
                    for k in ("added", "duplicates", "refused_compliance"):
                        summary[k] += idx.last_add[k]
                    bar.update(sum(b.num_rows for b in pending))
                    pending.clear()

                for rb in dset.to_batches(columns=cols, batch_size=batch):
                    pending.append(rb)
                    if sum(b.num_rows for b in pending) >= batch:
                        flush()
                if sum(b.num_rows for b in pending):
                    flush()
        seconds = time.perf_counter() - t0
        if compact:
            summary["compact"] = idx.compact()
        idx.save_dense()
        stats = idx.stats()
    finally:
        idx.close()
    summary.update(posts=stats["posts"], seconds=round(seconds, 3),
                   posts_per_s=round(summary["added"] / seconds, 1) if seconds > 0 else None,
                   size_bytes=stats["size_bytes"]["total"], sizes=stats["size_bytes"])
    return summary
