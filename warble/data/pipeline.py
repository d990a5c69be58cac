"""`warble ingest`: raw post dumps -> a clean, deduplicated, privacy-scrubbed Parquet corpus.

Phases (each shard task is a function over Arrow record batches, run by an executor):
  1. clean   per input range: read -> validate (bad records to quarantine) -> compliance -> normalize ->
             placeholders -> PII -> language ID -> quality -> cleaned part + dedup keys     (parallel)
  2. dedup   over all parts: exact and MinHash-LSH near duplicates, state on disk         (one process)
  3. write   per part: drop duplicates, split train/validation by conversation           (parallel)
Then the manifest: counts by stage and reason, with `read == kept + quarantined + sum(filtered)` checked.

Output layout (docs/FORMATS.md):
  OUT/corpus/{train,validation}/part-NNNNN.parquet   OUT/quarantine/part-NNNNN.jsonl
  OUT/compliance/{opt_out_authors,deleted_posts}.txt  OUT/manifest.json   OUT/config.toml
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from warble import __version__
from warble.config import save_toml
from warble.data import dedup
from warble.data.clean.langid import LangIdConfig, LangIdStage
from warble.data.clean.normalize import NormalizeConfig, NormalizeStage
from warble.data.clean.pii import PIIConfig, PIIStage
from warble.data.clean.placeholders import PlaceholderConfig, PlaceholderStage
from warble.data.clean.quality import QualityConfig, QualityStage
from warble.data.compliance import (
    REASON_DELETED, REASON_OPTED_OUT, REASON_QUARANTINE, ComplianceLists, ComplianceStage,
)
from warble.data.files import write_bytes, write_json, write_table
from warble.data.executors import EXECUTORS, run_tasks
from warble.data.readers import FORMATS, detect_format, expand_inputs, plan_tasks
from warble.data.tasks import CleanPlan, clean_shard, corpus_stats, finalize_shard, merge_stats, part_file
from warble.errors import ConfigError, InputError, WarbleError

MANIFEST = "manifest.json"


@dataclass
class StageSwitches:
    """Each cleaning stage can be switched off (compliance cannot: it is not a cleaning choice)."""

    normalize: bool = True
    placeholders: bool = True
    pii: bool = True
    langid: bool = True
    quality: bool = True
    dedup: bool = True


@dataclass
class IngestConfig:
    format: str | None = None  # None: detect per file
    executor: str = "local"
    workers: int = 0  # 0: one per available core
    batch_rows: int = 4096
    task_bytes: int = 16 << 20  # input bytes per shard task: small enough for a live progress bar
    validation_fraction: float = 0.02
    split_seed: int = 0
    opt_out: list[str] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)
    stages: StageSwitches = field(default_factory=StageSwitches)
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    placeholders: PlaceholderConfig = field(default_factory=PlaceholderConfig)
    pii: PIIConfig = field(default_factory=PIIConfig)
    langid: LangIdConfig = field(default_factory=LangIdConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    dedup: dedup.DedupConfig = field(default_factory=dedup.DedupConfig)

    def validate(self) -> None:
        if self.format is not None and self.format not in FORMATS:
            raise ConfigError(f"unknown format {self.format!r}; choose one of {', '.join(FORMATS)}")
        if self.executor not in EXECUTORS:
            raise ConfigError(f"unknown executor {self.executor!r}; choose one of {', '.join(EXECUTORS)}")
        if self.workers < 0:
            raise ConfigError("workers must be >= 0 (0: one per core)")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError("validation_fraction must be in [0, 1)")
        if not 0.0 < self.dedup.threshold <= 1.0:
            raise ConfigError("dedup.threshold must be in (0, 1]")
        if self.dedup.num_perm < 1 or self.dedup.max_rows_per_pass < 1:
            raise ConfigError("dedup.num_perm and dedup.max_rows_per_pass must be >= 1")
        if self.batch_rows < 1 or self.task_bytes < MIN_TASK_BYTES:
            raise ConfigError(f"batch_rows must be >= 1 and task_bytes >= {MIN_TASK_BYTES}")
        if self.langid.allow and not self.stages.langid:
            raise ConfigError("a language allow-list (--langs) needs the langid stage; drop --no-langid")


def build_stages(cfg: IngestConfig) -> list:
    """The cleaning stages, in order (compliance runs before all of them, see tasks.clean_shard)."""
    on = cfg.stages
    candidates = [(on.normalize, NormalizeStage, cfg.normalize), (on.placeholders, PlaceholderStage, cfg.placeholders),
                  (on.pii, PIIStage, cfg.pii), (on.langid, LangIdStage, cfg.langid),
                  (on.quality, QualityStage, cfg.quality)]
    return [stage(c) for enabled, stage, c in candidates if enabled]


MIN_TASKS = 8  # a small input is still cut into this many shards, so every core gets work
MIN_TASK_BYTES = 1 << 20


def _task_bytes(files: list[Path], cfg: IngestConfig) -> int:
    """Shard size: cfg.task_bytes, or less for a small input. Independent of the worker count on purpose: the
    shards decide the output files, and the output must not depend on how many processes wrote it."""
    total = sum(f.stat().st_size for f in files)
    return max(MIN_TASK_BYTES, min(cfg.task_bytes, total // MIN_TASKS + 1))


def _sum(results: list[dict], key: str) -> Counter:
    total: Counter = Counter()
    for r in results:
        total.update(r.get(key) or {})
    return total


def _prepare_out(out: Path, overwrite: bool) -> None:
    if ((out / "corpus").exists() or (out / MANIFEST).exists()) and not overwrite:
        raise InputError(f"{out} already holds a corpus; pass --overwrite to replace it")
    # Also clears the _work directory of a run that crashed, so none of its files leak into this one.
    for name in ("corpus", "quarantine", "compliance", "_work", MANIFEST):
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _inputs(inputs: list[str], out: Path) -> list[Path]:
    """The input files, minus anything under the output directory (`ingest data/ --out data/clean`)."""
    out = out.resolve()
    files = [f for f in expand_inputs(inputs) if not f.resolve().is_relative_to(out)]
    if not files:
        raise InputError(f"no input files outside the output directory {out}")
    return files


def run_ingest(inputs: list[str], out_dir: str | Path, cfg: IngestConfig, *, overwrite: bool = False,
               progress: bool = True, log=print) -> dict[str, Any]:
    cfg.validate()
    started = time.perf_counter()
    out = Path(out_dir)
    # Everything that can fail on bad input (missing files, unknown formats, bad lists) before anything is deleted.
    files = _inputs(inputs, out)
    formats = {str(f): cfg.format or detect_format(f) for f in files}
    tasks = [t for f in files for t in plan_tasks(f, formats[str(f)], _task_bytes(files, cfg))]
    lists = ComplianceLists.load(cfg.opt_out, cfg.deletions)
    _prepare_out(out, overwrite)
    work = out / "_work"
    (work / "parts").mkdir(parents=True)
    lists.save(out / "compliance")
    log(f"ingest: {len(files)} file(s), {len(tasks)} shard task(s), formats: {dict(Counter(formats.values()))}")

    plan = CleanPlan(ComplianceStage(out / "compliance"), build_stages(cfg),
                     cfg.dedup if cfg.stages.dedup else None, cfg.batch_rows, str(work))
    t0 = time.perf_counter()
    cleaned = run_tasks(clean_shard, [(t, i, plan) for i, t in enumerate(tasks)], executor=cfg.executor,
                        workers=cfg.workers, desc="clean", progress=progress, count_key="read")
    t_clean = time.perf_counter() - t0

    t0 = time.perf_counter()
    with_rows = [r["index"] for r in cleaned if r["rows"]]
    verdicts: dict[int, str] = {}
    if plan.dedup is not None and with_rows:
        shards = [dedup.DedupShard(part_file(work, i, ".keys.npy"), part_file(work, i, ".order.npy"))
                  for i in with_rows]
        for i, v in zip(with_rows, dedup.resolve_duplicates(shards, plan.dedup)):
            verdicts[i] = str(part_file(work, i, ".verdict.npy"))
            np.save(verdicts[i], v)
    blocked = [np.load(p) for p in sorted((work / "parts").glob("*.blocked.npy"))]
    blocked_path = None
    if blocked:
        blocked_path = str(work / "blocked_keys.npy")
        np.save(blocked_path, np.unique(np.concatenate(blocked)))
    t_dedup = time.perf_counter() - t0

    t0 = time.perf_counter()
    written = run_tasks(
        finalize_shard,
        [(i, str(work), str(out), verdicts.get(i), blocked_path, cfg.validation_fraction, cfg.split_seed)
         for i in with_rows],
        executor=cfg.executor, workers=cfg.workers, desc="write", progress=progress)
    t_write = time.perf_counter() - t0

    qdir = work / "quarantine"
    if qdir.exists():
        shutil.move(str(qdir), str(out / "quarantine"))
    else:
        (out / "quarantine").mkdir()
    shutil.rmtree(work)

    manifest = _manifest(inputs, formats, lists, cleaned, written,
                         {"clean": t_clean, "dedup": t_dedup, "write": t_write,
                          "total": time.perf_counter() - started})
    check_manifest(manifest, out)
    write_json(manifest, out / MANIFEST)
    save_toml(cfg, out / "config.toml")
    return manifest


def _manifest(inputs, formats, lists, cleaned, written, seconds) -> dict[str, Any]:
    filtered = _sum(cleaned, "filtered") + _sum(written, "filtered")
    quarantined = _sum(cleaned, "quarantined")
    splits = _sum(written, "splits")
    read = sum(r["read"] for r in cleaned)
    kept = sum(splits.values())
    dup = filtered.get(dedup.REASON_EXACT, 0) + filtered.get(dedup.REASON_NEAR, 0)
    return {
        "warble_version": __version__,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "inputs": list(inputs),
        "formats": dict(Counter(formats.values())),
        "read": read,
        "kept": kept,
        "quarantined": sum(quarantined.values()),
        "quarantined_by_reason": dict(sorted(quarantined.items())),
        "filtered": {k: v for k, v in sorted(filtered.items()) if v},
        "modified": dict(sorted(_sum(cleaned, "modified").items())),
        "splits": {"train": splits.get("train", 0), "validation": splits.get("validation", 0)},
        **merge_stats(written),
        "duplicate_rate": dup / (kept + dup) if kept + dup else 0.0,
        "compliance": lists.summary(),
        "files": {k: v for r in written for k, v in r["files"].items()},
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "stage_seconds": {k: round(v, 3) for k, v in sorted(_sum(cleaned, "seconds").items())},
        "posts_per_s": round(read / seconds["total"], 1) if seconds["total"] else None,
    }


def check_manifest(m: dict[str, Any], out: Path) -> None:
    """The accounting invariant: nothing is dropped silently, and the files hold exactly `kept` rows."""
    total = m["kept"] + m["quarantined"] + sum(m["filtered"].values())
    if m["read"] != total:
        raise WarbleError(f"accounting error: read {m['read']} != kept {m['kept']} + quarantined "
                          f"{m['quarantined']} + filtered {sum(m['filtered'].values())}")
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in sorted((out / "corpus").rglob("*.parquet")))
    if rows != m["kept"]:
        raise WarbleError(f"accounting error: corpus files hold {rows} rows, manifest says kept {m['kept']}")


def apply_deletions(out_dir: str | Path, lists: ComplianceLists, log=print) -> dict[str, Any]:
    """Remove newly opted-out authors and deleted posts (and reposts of deleted posts) from a corpus, in place.

    Each Parquet file is rewritten atomically (temp file, then rename); quarantined raw records that name a
    listed id are purged too. The manifest moves the removed rows from `kept`/`quarantined` to `filtered` (so
    its invariant still holds) and its statistics are recomputed from the files; the corpus's compliance lists
    grow to include the new ids.
    """
    out = Path(out_dir)
    manifest = load_manifest(out)
    lists = ComplianceLists.from_dir(out / "compliance").merged(lists)
    removed: Counter = Counter()
    stats = []
    for path in sorted((out / "corpus").rglob("*.parquet")):
        table = pq.read_table(path)
        opted, gone = lists.blocked_mask(table)
        keep = ~(opted | gone)
        rel = str(path.relative_to(out))
        if not keep.all():
            removed[REASON_OPTED_OUT] += int(opted.sum())
            removed[REASON_DELETED] += int((gone & ~opted).sum())
            split = path.parent.name
            manifest["splits"][split] -= int((~keep).sum())
            table = table.filter(pa.array(keep))
            if table.num_rows:
                write_table(table, path)
                manifest["files"][rel] = table.num_rows
            else:
                path.unlink()
                manifest["files"].pop(rel)
        stats.append(corpus_stats(table))
    for qpath in sorted((out / "quarantine").glob("*.jsonl")):
        records = [orjson.loads(line) for line in qpath.read_bytes().splitlines()]
        purge = [r for r in records if lists.mentioned_in(r.get("raw", ""))]
        if purge:
            for r in purge:
                manifest["quarantined_by_reason"][r["reason"]] -= 1
            write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records if r not in purge), qpath)
            removed[REASON_QUARANTINE] += len(purge)
            manifest["quarantined"] -= len(purge)
    manifest["kept"] -= removed[REASON_OPTED_OUT] + removed[REASON_DELETED]
    for k, v in removed.items():
        if v:
            manifest["filtered"][k] = manifest["filtered"].get(k, 0) + v
    manifest.update(merge_stats(stats))
    lists.save(out / "compliance")
    manifest["compliance"] = lists.summary()
    manifest.setdefault("deletions_applied", []).append(
        {"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "removed": dict(removed)})
    check_manifest(manifest, out)
    write_json(manifest, out / MANIFEST)
    log(f"apply-deletions: removed {removed[REASON_OPTED_OUT] + removed[REASON_DELETED]} post(s) from the corpus "
        f"and {removed[REASON_QUARANTINE]} quarantined record(s)")
    return manifest


def load_manifest(out_dir: str | Path) -> dict[str, Any]:
    p = Path(out_dir) / MANIFEST
    if not p.exists():
        raise InputError(f"{out_dir} is not a Warble corpus (no {MANIFEST})")
    return orjson.loads(p.read_bytes())

