"""`synthesize`: run the shards (in-process or in a process pool), then write the ground truth and the summary."""

from __future__ import annotations

import dataclasses
import multiprocessing
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from warble.errors import ConfigError

from . import truth
from .config import SynthConfig
from .shard import part_name, write_shard
from .world import build_world


def synthesize(out_dir: str | Path, posts: int, *, workers: int = 1, progress: bool = True, **knobs) -> dict:
    """Write a synthetic corpus of `posts` posts to out_dir; knobs are SynthConfig fields (seed, fmt, shards,
    malformed_rate, duplicate_rate, near_duplicate_rate, spam_rate, pii_rate, langs, start, end).

    Part files are out_dir/part-00000.jsonl...; the ground truth goes to out_dir/_truth/. Part files and a
    _truth/ folder left by an earlier run in out_dir are replaced. Returns the summary (also in
    _truth/summary.json) plus the wall time.
    """
    try:
        cfg = SynthConfig(posts=posts, **knobs)
    except TypeError as e:
        raise ConfigError(str(e)) from None
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("part-*.jsonl"):
        stale.unlink()
    shutil.rmtree(out / truth.TRUTH_DIR, ignore_errors=True)
    (out / truth.TRUTH_DIR).mkdir()

    started = time.perf_counter()
    shards = cfg.n_shards
    results: list[dict] = [{}] * shards
    with tqdm(total=cfg.posts, unit="post", disable=not progress, file=sys.stderr, smoothing=0.05) as bar:
        if workers == 1 or shards == 1:
            for i in range(shards):
                results[i] = write_shard(cfg, i, str(out), bar.update)
        else:
            # spawn: workers start clean (no forked locks or threads); each builds the world from the seed.
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(workers, shards), mp_context=ctx) as pool:
                futures = {pool.submit(write_shard, cfg, i, str(out)): i for i in range(shards)}
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update(results[futures[future]]["posts"])

    world = build_world(cfg.seed)
    truth.merge_parts(out, shards)
    truth.write_users(out, world)
    truth.write_jsonl(out / truth.TRUTH_DIR / "malformed.jsonl", [row for r in results for row in r["malformed_rows"]])
    summary = _summary(cfg, results, world)
    truth.write_summary(out, summary)
    seconds = time.perf_counter() - started
    return {**summary, "seconds": round(seconds, 3), "posts_per_second": round(cfg.posts / seconds, 1)}


def _summary(cfg: SynthConfig, results: list[dict], world) -> dict:
    total = {k: Counter() for k in ("kinds", "langs", "pii", "malformed")}
    for r in results:
        for k in total:
            total[k].update(r[k])
    n_malformed = sum(total["malformed"].values())
    return {
        "posts": cfg.posts,
        "records": cfg.posts + n_malformed,
        "malformed_records": n_malformed,
        "lines": sum(r["lines"] for r in results),
        "files": [part_name(i) for i in range(cfg.n_shards)],
        "kinds": dict(sorted(total["kinds"].items())),
        "langs": dict(sorted(total["langs"].items())),
        "pii": dict(sorted(total["pii"].items())),
        "posts_with_pii": sum(r["pii_posts"] for r in results),
        "malformed": dict(sorted(total["malformed"].items())),
        "users": len(world),
        "bots": sum(world.is_bot),
        "config": dataclasses.asdict(cfg),
    }
