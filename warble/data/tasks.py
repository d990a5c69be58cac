"""The two per-shard tasks of `warble ingest`, run by an executor (local processes or Ray).

`clean_shard` (phase 1): read one input range -> validate -> compliance -> stages -> a cleaned Parquet part, its
dedup keys, and its quarantine file. `finalize_shard` (phase 3, after the global dedup of phase 2): drop the
duplicates and reposts of blocked posts, split train/validation by conversation, write the corpus files and the
statistics the manifest needs. Both return plain JSON-able dicts of counts, so executors can ship them anywhere.
"""

from __future__ import annotations

import json
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
from warble.data.compliance import REASON_QUARANTINE, REASON_REPOST, ComplianceStage
from warble.data.files import PARQUET_OPTS, write_table
from warble.data.readers import read_task
from warble.data.readers.base import Quarantined, ReadTask
from warble.data.schema import POST_SCHEMA, posts_to_batch, validate_post
from warble.data.stages import Stage, text_lengths
from warble.errors import RecordError

LENGTH_BINS = [0, 20, 40, 60, 80, 100, 140, 200, 280, 500, 1000, 25_001]  # characters


@dataclass
class CleanPlan:
    compliance: ComplianceStage
    stages: Sequence[Stage]
    dedup: dedup.DedupConfig | None
    batch_rows: int
    work_dir: str


def part_name(i: int) -> str:
    return f"part-{i:05d}"


def part_file(work_dir: str | Path, index: int, suffix: str) -> Path:
    return Path(work_dir) / "parts" / f"{part_name(index)}{suffix}"


def _quarantined(task: ReadTask, item: dict, e: RecordError) -> Quarantined:
    # ensure_ascii: the mapped record may hold the very lone surrogates it is quarantined for.
    raw = json.dumps({k: v for k, v in item.items() if not k.startswith("_")}, ensure_ascii=True, default=str)
    return Quarantined(source=task.path, reason=e.reason, detail=e.detail, line=item.get("_line"),
                       offset=item.get("_offset"), raw=raw)


def clean_shard(task: ReadTask, index: int, plan: CleanPlan) -> dict[str, Any]:
    stats = {"index": index, "read": 0, "quarantined": Counter(), "filtered": Counter(), "modified": Counter(),
             "seconds": Counter(), "rows": 0}
    lists = plan.compliance.lists
    out_path = part_file(plan.work_dir, index, ".parquet")
    tmp_path = out_path.with_name(out_path.name + ".tmp")
    writer: pq.ParquetWriter | None = None
    texts: list[str] = []
    order: list[np.ndarray] = []
    blocked_keys: list[int] = []
    pending: list[dict] = []

    def run_stages(batch: pa.RecordBatch) -> pa.RecordBatch | None:
        t0 = time.perf_counter()
        res, blocked = plan.compliance.split(batch)
        stats["seconds"][plan.compliance.name] += time.perf_counter() - t0
        stats["filtered"].update(res.filtered)
        if blocked is not None:  # remembered by text, so reposts of them can go too (finalize_shard)
            blocked_keys.extend(dedup.exact_key(t) for t in blocked.column("text").to_pylist())
        batch = res.batch
        for stage in plan.stages:
            if batch.num_rows == 0:
                return None
            t0 = time.perf_counter()
            res = stage(batch)
            stats["seconds"][stage.name] += time.perf_counter() - t0
            stats["filtered"].update(res.filtered)
            stats["modified"].update(res.modified)
            batch = res.batch
        return batch if batch.num_rows else None

    def flush() -> None:
        nonlocal writer
        batch = run_stages(posts_to_batch(pending))
        pending.clear()
        if batch is None:
            return
        if writer is None:
            writer = pq.ParquetWriter(tmp_path, POST_SCHEMA, **PARQUET_OPTS)
        writer.write_batch(batch)
        stats["rows"] += batch.num_rows
        texts.extend(batch.column("text").to_pylist())
        # Posts without a time sort last among duplicates: the dated copy is the better original.
        created = pc.fill_null(pc.cast(batch.column("created_at"), pa.int64()), np.iinfo(np.int64).max)
        order.append(created.to_numpy(zero_copy_only=False))

    qfile = None
    t_read = time.perf_counter()
    try:
        for item in read_task(task):
            stats["read"] += 1
            if isinstance(item, dict):
                try:
                    pending.append(validate_post(item))
                except RecordError as e:
                    item = _quarantined(task, item, e)
            if isinstance(item, Quarantined):
                if lists.mentioned_in(item.raw):  # unparsed text of a blocked post or author: never stored
                    stats["filtered"][REASON_QUARANTINE] += 1
                    continue
                if qfile is None:
                    qpath = Path(plan.work_dir) / "quarantine" / f"{part_name(index)}.jsonl"
                    qpath.parent.mkdir(parents=True, exist_ok=True)
                    qfile = open(qpath, "wb")
                qfile.write(orjson.dumps(item.to_json()) + b"\n")
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
    if blocked_keys:
        np.save(part_file(plan.work_dir, index, ".blocked.npy"), np.asarray(blocked_keys, dtype=np.uint64))
    if plan.dedup is not None and texts:
        t0 = time.perf_counter()
        # Column-major: the dedup pass reads one column (band) at a time through mmap, touching only its pages.
        np.save(part_file(plan.work_dir, index, ".keys.npy"), np.asfortranarray(dedup.dedup_keys(texts, plan.dedup)))
        np.save(part_file(plan.work_dir, index, ".order.npy"), np.concatenate(order).astype(np.int64))
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


def reposts_of(table: pa.Table, blocked_keys: np.ndarray) -> np.ndarray:
    """Mask of reposts (repost_of_id set, or an 'RT @x:' text) whose text is that of a blocked post."""
    if not len(blocked_keys):
        return np.zeros(table.num_rows, dtype=bool)
    is_repost = pc.or_kleene(pc.is_valid(table.column("repost_of_id")),
                             pc.starts_with(table.column("text"), "RT @")).to_numpy(zero_copy_only=False)
    out = np.zeros(table.num_rows, dtype=bool)
    rows = np.flatnonzero(is_repost)
    if len(rows):
        texts = table.column("text").take(pa.array(rows)).to_pylist()
        keys = np.fromiter((dedup.exact_key(t) for t in texts), dtype=np.uint64, count=len(texts))
        out[rows] = np.isin(keys, blocked_keys)
    return out


def corpus_stats(table: pa.Table) -> dict[str, Any]:
    """The manifest's statistics of some corpus rows; `merge_stats` adds them up."""
    langs = pc.value_counts(pc.fill_null(table.column("lang"), "und")).to_pylist()
    hist, _ = np.histogram(text_lengths(table), bins=LENGTH_BINS)
    mm = pc.min_max(table.column("created_at")).as_py() if table.num_rows else {"min": None, "max": None}
    return {"languages": Counter({d["values"]: d["counts"] for d in langs}), "length_hist": hist.tolist(),
            "time_min": mm["min"].isoformat() if mm["min"] else None,
            "time_max": mm["max"].isoformat() if mm["max"] else None}


def merge_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    langs: Counter = Counter()
    for p in parts:
        langs.update(p["languages"])
    hists = [p["length_hist"] for p in parts]
    times = [t for p in parts for t in (p["time_min"], p["time_max"]) if t]
    return {
        "languages": dict(langs.most_common()),
        "length_histogram": {"bins": LENGTH_BINS,
                             "counts": [sum(c) for c in zip(*hists)] if hists else [0] * (len(LENGTH_BINS) - 1)},
        "time_range": {"min": min(times) if times else None, "max": max(times) if times else None},
    }


def finalize_shard(index: int, work_dir: str, out_dir: str, verdict_path: str | None, blocked_path: str | None,
                   validation_fraction: float, split_seed: int) -> dict[str, Any]:
    src = part_file(work_dir, index, ".parquet")
    stats: dict[str, Any] = {"index": index, "filtered": Counter(), "splits": Counter(), "files": {},
                             **corpus_stats(POST_SCHEMA.empty_table())}
    if not src.exists():
        return stats
    table = pq.read_table(src, schema=POST_SCHEMA)
    drop = np.zeros(table.num_rows, dtype=bool)
    if verdict_path is not None:
        verdict = np.load(verdict_path)
        for code, reason in dedup.REASONS.items():
            stats["filtered"][reason] = int((verdict == code).sum())
        drop = verdict != 0
    if blocked_path is not None:
        repost = reposts_of(table, np.load(blocked_path)) & ~drop
        stats["filtered"][REASON_REPOST] = int(repost.sum())
        drop |= repost
    table = table.filter(pa.array(~drop))
    if table.num_rows == 0:
        return stats
    val = in_validation(split_keys(table), validation_fraction, split_seed)
    for split, mask in (("train", ~val), ("validation", val)):
        part = table.filter(pa.array(mask))
        if part.num_rows:
            dest = Path(out_dir) / "corpus" / split / f"{part_name(index)}.parquet"
            write_table(part, dest)
            stats["splits"][split] = part.num_rows
            stats["files"][str(dest.relative_to(out_dir))] = part.num_rows
    stats.update(corpus_stats(table))
    return stats
