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
import re
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
from warble.data.compliance import ComplianceLists, ComplianceStage
from warble.data.executors import EXECUTORS, run_tasks
from warble.data.readers import FORMATS, detect_format, expand_inputs, plan_tasks
from warble.data.tasks import LENGTH_BINS, CleanPlan, clean_shard, finalize_shard, part_name
from warble.errors import ConfigError, InputError, WarbleError

MANIFEST = "manifest.json"
_TOKEN = re.compile(r"\w[\w:-]*")


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
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError("validation_fraction must be in [0, 1)")
        if not 0.0 < self.dedup.threshold <= 1.0:
            raise ConfigError("dedup.threshold must be in (0, 1]")
        if self.batch_rows < 1 or self.task_bytes < 1 << 16:
            raise ConfigError("batch_rows must be >= 1 and task_bytes >= 65536")


def build_stages(cfg: IngestConfig, compliance_dir: Path) -> list:
    """The per-record stages, in order. Compliance runs first so no other stage ever sees blocked posts."""
    on = cfg.stages
    stages: list = [ComplianceStage(compliance_dir)]
    if on.normalize:
        stages.append(NormalizeStage(cfg.normalize))
    if on.placeholders:
        stages.append(PlaceholderStage(cfg.placeholders))
    if on.pii:
        stages.append(PIIStage(cfg.pii))
    if on.langid:
        stages.append(LangIdStage(cfg.langid))
    if on.quality:
        stages.append(QualityStage(cfg.quality))
    return stages


MIN_TASKS = 8  # a small input is still cut into this many shards, so every core gets work


def _task_bytes(files: list[Path], cfg: IngestConfig) -> int:
    """Shard size: cfg.task_bytes, or less for a small input. Independent of the worker count on purpose: the
    shards decide the output files, and the output must not depend on how many processes wrote it."""
    total = sum(f.stat().st_size for f in files)
    return max(1 << 20, min(cfg.task_bytes, total // MIN_TASKS + 1))


def _sum(results: list[dict], key: str) -> Counter:
    total: Counter = Counter()
    for r in results:
        total.update(r.get(key) or {})
    return total


def _prepare_out(out: Path, overwrite: bool) -> None:
    if (out / "corpus").exists() or (out / MANIFEST).exists():
        if not overwrite:
            raise InputError(f"{out} already holds a corpus; pass --overwrite to replace it")
        for name in ("corpus", "quarantine", "compliance", "_work", MANIFEST):
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def run_ingest(inputs: list[str], out_dir: str | Path, cfg: IngestConfig, *, overwrite: bool = False,
               progress: bool = True, log=print) -> dict[str, Any]:
    cfg.validate()
    started = time.perf_counter()
    out = Path(out_dir)
    files = expand_inputs(inputs)
    _prepare_out(out, overwrite)
    work = out / "_work"
    (work / "parts").mkdir(parents=True, exist_ok=True)

    lists = ComplianceLists.load(cfg.opt_out, cfg.deletions)
    lists.save(out / "compliance")
    formats = {str(f): cfg.format or detect_format(f) for f in files}
    tasks = [t for f in files for t in plan_tasks(f, formats[str(f)], _task_bytes(files, cfg))]
    log(f"ingest: {len(files)} file(s), {len(tasks)} shard task(s), formats: "
        f"{dict(Counter(formats.values()))}")

    plan = CleanPlan(build_stages(cfg, out / "compliance"), cfg.dedup if cfg.stages.dedup else None,
                     cfg.batch_rows, str(work))
    t0 = time.perf_counter()
    cleaned = run_tasks(clean_shard, [(t, i, plan) for i, t in enumerate(tasks)], executor=cfg.executor,
                        workers=cfg.workers, desc="clean", progress=progress, count_key="read")
    t_clean = time.perf_counter() - t0

    t0 = time.perf_counter()
    verdict_paths: dict[int, str] = {}
    if plan.dedup is not None:
        with_rows = [r["index"] for r in cleaned if r["rows"]]
        shards = [dedup.DedupShard(work / "parts" / f"{part_name(i)}.keys.npy",
                                   work / "parts" / f"{part_name(i)}.order.npy") for i in with_rows]
        for i, v in zip(with_rows, dedup.resolve_duplicates(shards, plan.dedup)):
            path = work / "parts" / f"{part_name(i)}.verdict.npy"
            np.save(path, v)
            verdict_paths[i] = str(path)
    t_dedup = time.perf_counter() - t0

    t0 = time.perf_counter()
    written = run_tasks(
        finalize_shard,
        [(r["index"], str(work), str(out), verdict_paths.get(r["index"]), cfg.validation_fraction, cfg.split_seed)
         for r in cleaned if r["rows"]],
        executor=cfg.executor, workers=cfg.workers, desc="write", progress=progress)
    t_write = time.perf_counter() - t0

    qdir = work / "quarantine"
    if qdir.exists():
        shutil.move(str(qdir), str(out / "quarantine"))
    else:
        (out / "quarantine").mkdir(exist_ok=True)
    shutil.rmtree(work)

    manifest = _manifest(inputs, formats, cfg, lists, cleaned, written,
                         {"clean": t_clean, "dedup": t_dedup, "write": t_write,
                          "total": time.perf_counter() - started})
    check_manifest(manifest, out)
    _write_json(out / MANIFEST, manifest)
    save_toml(cfg, out / "config.toml")
    return manifest


def _manifest(inputs, formats, cfg, lists, cleaned, written, seconds) -> dict[str, Any]:
    filtered = _sum(cleaned, "filtered") + _sum(written, "filtered")
    quarantined = _sum(cleaned, "quarantined")
    splits = _sum(written, "splits")
    read = sum(r["read"] for r in cleaned)
    kept = sum(splits.values())
    stage_seconds = _sum(cleaned, "seconds")
    times = [t for r in written for t in (r["time_min"], r["time_max"]) if t]
    dup = filtered.get(dedup.REASON_EXACT, 0) + filtered.get(dedup.REASON_NEAR, 0)
    before_dedup = kept + dup
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
        "languages": dict(_sum(written, "languages").most_common()),
        "length_histogram": {"bins": LENGTH_BINS, "counts": [sum(c) for c in zip(*(r["length_hist"] for r in written))]
                             if written else [0] * (len(LENGTH_BINS) - 1)},
        "duplicate_rate": dup / before_dedup if before_dedup else 0.0,
        "time_range": {"min": min(times) if times else None, "max": max(times) if times else None},
        "compliance": lists.summary(),
        "files": {k: v for r in written for k, v in r["files"].items()},
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "stage_seconds": {k: round(v, 3) for k, v in sorted(stage_seconds.items())},
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


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    tmp.replace(path)


def load_manifest(out_dir: str | Path) -> dict[str, Any]:
    p = Path(out_dir) / MANIFEST
    if not p.exists():
        raise InputError(f"{out_dir} is not a Warble corpus (no {MANIFEST})")
    return orjson.loads(p.read_bytes())


QUARANTINE_PURGED = "compliance.purged_from_quarantine"


def _raw_mentions(raw: str, lists: ComplianceLists) -> bool:
    # A quarantined record is unparsed text: look for any listed id as a whole token in it.
    return any(tok in lists.deleted_posts or tok in lists.opted_out_authors for tok in _TOKEN.findall(raw))


def apply_deletions(out_dir: str | Path, lists: ComplianceLists, log=print) -> dict[str, Any]:
    """Remove newly opted-out authors and deleted posts from an existing corpus, in place.

    Each Parquet file is rewritten atomically (temp file, then rename); quarantined raw records that mention a
    listed id are purged too. The manifest moves the removed rows from `kept`/`quarantined` to `filtered`, so
    its invariant still holds, and the corpus's compliance lists grow to include the new ids.
    """
    out = Path(out_dir)
    manifest = load_manifest(out)
    lists = ComplianceLists.from_dir(out / "compliance").merged(lists)
    removed: Counter = Counter()
    for path in sorted((out / "corpus").rglob("*.parquet")):
        table = pq.read_table(path)
        opted, gone = lists.blocked_mask(table)
        if not (opted.any() or gone.any()):
            continue
        removed["compliance.opted_out"] += int(opted.sum())
        removed["compliance.deleted"] += int((gone & ~opted).sum())
        keep = ~(opted | gone)
        rel = str(path.relative_to(out))
        if keep.any():
            tmp = path.with_suffix(".tmp")
            pq.write_table(table.filter(pa.array(keep)), tmp, compression="zstd", compression_level=3)
            tmp.replace(path)
            manifest["files"][rel] = int(keep.sum())
        else:
            path.unlink()
            manifest["files"].pop(rel, None)
        split = path.parent.name
        manifest["splits"][split] = manifest["splits"].get(split, 0) - int((~keep).sum())
    purged = 0
    for qpath in sorted((out / "quarantine").glob("*.jsonl")):
        lines = qpath.read_bytes().splitlines(keepends=True)
        kept_lines = [ln for ln in lines if not _raw_mentions(orjson.loads(ln).get("raw", ""), lists)]
        if len(kept_lines) != len(lines):
            purged += len(lines) - len(kept_lines)
            tmp = qpath.with_suffix(".tmp")
            tmp.write_bytes(b"".join(kept_lines))
            tmp.replace(qpath)
    if purged:
        removed[QUARANTINE_PURGED] += purged
        manifest["quarantined"] -= purged
    n = sum(v for k, v in removed.items() if k != QUARANTINE_PURGED)
    manifest["kept"] -= n
    for k, v in removed.items():
        if v:
            manifest["filtered"][k] = manifest["filtered"].get(k, 0) + v
    lists.save(out / "compliance")
    manifest["compliance"] = lists.summary()
    manifest.setdefault("deletions_applied", []).append(
        {"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "removed": dict(removed)})
    check_manifest(manifest, out)
    _write_json(out / MANIFEST, manifest)
    log(f"apply-deletions: removed {n} post(s) from the corpus and {purged} quarantined record(s)")
    return manifest
