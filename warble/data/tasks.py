"""The two per-shard tasks of `warble ingest`, run by an executor (local processes or Ray).

`clean_shard` (phase 1): read one input range -> validate -> stages -> a cleaned Parquet part, its dedup keys,
and its quarantine file. `finalize_shard` (phase 3, after the global dedup of phase 2): drop the duplicates,
split train/validation by conversation, write the corpus files and the statistics the manifest needs.
Both return plain JSON-able dicts of counts, so executors can ship them anywhere.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from warble.data import dedup
from warble.data.readers import read_task
from warble.data.readers.base import Quarantined, ReadTask
from warble.data.schema import POST_SCHEMA, posts_to_batch, validate_post
from warble.data.stages import Stage, text_lengths
from warble.errors import RecordError

PARQUET_OPTS = dict(compression="zstd", compression_level=3)
LENGTH_BINS = [0, 20, 40, 60, 80, 100, 140, 200, 280, 500, 1000, 25_001]  # characters


@dataclass
class CleanPlan:
    stages: Sequence[Stage]
    dedup: dedup.DedupConfig | None
    batch_rows: int
    work_dir: str


def part_name(i: int) -> str:
    return f"part-{i:05d}"


def _write_quarantine(f, q: Quarantined) -> None:
    f.write(orjson.dumps(q.to_json()) + b"\n")


def clean_shard(task: ReadTask, index: int, plan: CleanPlan) -> dict[str, Any]:
    work = Path(plan.work_dir)
    quarantine_path = work / "quarantine" / f"{part_name(index)}.jsonl"
    stats = {"index": index, "read": 0, "quarantined": Counter(), "filtered": Counter(), "modified": Counter(),
             "seconds": Counter(), "rows": 0}
    writer: pq.ParquetWriter | None = None
    out_path = work / "parts" / f"{part_name(index)}.parquet"
    tmp_path = out_path.with_suffix(".tmp")
    texts: list[str] = []
    order: list[int] = []
    pending: list[dict] = []

    def flush() -> None:
        nonlocal writer
        batch = posts_to_batch(pending)
        pending.clear()
        for stage in plan.stages:
            t0 = time.perf_counter()
            res = stage(batch)
            stats["seconds"][stage.name] += time.perf_counter() - t0
            batch = res.batch
            stats["filtered"].update(res.filtered)
            stats["modified"].update(res.modified)
            if batch.num_rows == 0:
                return
        if writer is None:
            writer = pq.ParquetWriter(tmp_path, POST_SCHEMA, **PARQUET_OPTS)
        writer.write_batch(batch)
        stats["rows"] += batch.num_rows
        texts.extend(batch.column("text").to_pylist())
        # Posts without a time sort last within a duplicate cluster: the dated copy is the better original.
        created = pc.fill_null(pc.cast(batch.column("created_at"), pa.int64()), np.iinfo(np.int64).max)
        order.extend(created.to_numpy(zero_copy_only=False))

    qfile = None
    t_read = time.perf_counter()
    try:
        for item in read_task(task):
            stats["read"] += 1
            if isinstance(item, dict):
                try:
                    pending.append(validate_post(item))
                except RecordError as e:
                    item = Quarantined(source=task.path, reason=e.reason, detail=e.detail, line=item.get("_line"),
                                       offset=item.get("_offset"), raw=orjson.dumps(item, default=str).decode())
            if isinstance(item, Quarantined):
                if qfile is None:
                    quarantine_path.parent.mkdir(parents=True, exist_ok=True)
                    qfile = open(quarantine_path, "wb")
                _write_quarantine(qfile, item)
                stats["quarantined"][item.reason] += 1
            elif len(pending) >= plan.batch_rows:
                flush()
        if pending:
            flush()
    finally:
        if qfile is not None:
            qfile.close()
        if writer is not None:
            writer.close()
    stats["seconds"]["total"] = time.perf_counter() - t_read
    if writer is not None:
        tmp_path.replace(out_path)
    if plan.dedup is not None and texts:
        t0 = time.perf_counter()
        # Column-major: the dedup pass reads one column (band) at a time through mmap, touching only its pages.
        np.save(work / "parts" / f"{part_name(index)}.keys.npy", np.asfortranarray(dedup.dedup_keys(texts, plan.dedup)))
        np.save(work / "parts" / f"{part_name(index)}.order.npy", np.asarray(order, dtype=np.int64))
        stats["seconds"]["dedup_keys"] = time.perf_counter() - t0
    return stats


def in_validation(keys: pa.Array, fraction: float, seed: int) -> np.ndarray:
    """Deterministic split by conversation: every post of a conversation falls on the same side."""
    cut = int(fraction * 2**64)
    return np.fromiter((xxhash.xxh64_intdigest(k.encode(), seed=seed) < cut for k in keys.to_pylist()),
                       dtype=bool, count=len(keys))


def split_keys(table: pa.Table) -> pa.Array:
    """conversation_id, else the parent (v1.1 replies lack conversation ids), else the post itself."""
    return pc.coalesce(table.column("conversation_id"), table.column("reply_to_id"), table.column("id"))


def finalize_shard(index: int, work_dir: str, out_dir: str, verdict_path: str | None, validation_fraction: float,
                   split_seed: int) -> dict[str, Any]:
    src = Path(work_dir) / "parts" / f"{part_name(index)}.parquet"
    stats: dict[str, Any] = {"index": index, "filtered": Counter(), "splits": Counter(), "languages": Counter(),
                             "length_hist": [0] * (len(LENGTH_BINS) - 1), "time_min": None, "time_max": None,
                             "files": {}}
    if not src.exists():
        return stats
    table = pq.read_table(src, schema=POST_SCHEMA)
    if verdict_path is not None:
        verdict = np.load(verdict_path)
        for code, reason in dedup.REASONS.items():
            stats["filtered"][reason] = int((verdict == code).sum())
        table = table.filter(pa.array(verdict == 0))
    if table.num_rows == 0:
        return stats
    val = in_validation(split_keys(table), validation_fraction, split_seed)
    for split, mask in (("train", ~val), ("validation", val)):
        part = table.filter(pa.array(mask))
        if part.num_rows == 0:
            continue
        dest = Path(out_dir) / "corpus" / split / f"{part_name(index)}.parquet"
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".tmp")
        pq.write_table(part, tmp, **PARQUET_OPTS)
        tmp.replace(dest)
        stats["splits"][split] = part.num_rows
        stats["files"][str(dest.relative_to(out_dir))] = part.num_rows
    langs = pc.value_counts(pc.fill_null(table.column("lang"), "und")).to_pylist()
    stats["languages"] = Counter({d["values"]: d["counts"] for d in langs})
    hist, _ = np.histogram(text_lengths(table), bins=LENGTH_BINS)
    stats["length_hist"] = hist.tolist()
    mm = pc.min_max(table.column("created_at")).as_py()
    stats["time_min"] = mm["min"].isoformat() if mm["min"] else None
    stats["time_max"] = mm["max"].isoformat() if mm["max"] else None
    return stats
