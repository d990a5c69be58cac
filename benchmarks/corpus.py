"""Corpus pipeline benchmark: posts/s per stage and end to end, and peak memory, on simulated posts.

    python benchmarks/corpus.py --posts 1000000 --json

Generates the dump once (not timed in the pipeline numbers), then runs `warble ingest` in a subprocess with
language ID on and with it off, sampling the RSS of the whole process tree (driver + workers). Also runs a
run at a tenth of the size, so the peak memory at two input sizes shows whether memory grows with the input.
Prints one JSON object; targets (issue 2): >= 3,000 posts/s with language ID, >= 20,000 without.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _tree_rss_mb(root: int) -> float:
    """Sum of VmRSS over `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/status") as f:
                kb = next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
        rss[int(d)] = kb
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 1024


def run_measured(cmd: list[str]) -> tuple[dict, float, float]:
    """(stdout JSON, wall seconds, peak tree RSS in MB) of a command."""
    peak = 0.0
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_mb(proc.pid))
            done.wait(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    done.set()
    th.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err[-3000:]}")
    return json.loads(out), wall, peak


def stage_rates(manifest: dict) -> dict[str, float]:
    """Posts/s of each stage on one core: posts read / CPU seconds the stage took (summed over workers)."""
    read = manifest["read"]
    return {k: round(read / v) for k, v in manifest["stage_seconds"].items() if v > 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=0, help="ingest processes (default: one per core)")
    ap.add_argument("--work-dir", help="where to write the dump and corpora (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json", action="store_true", help="print only the JSON result")
    a = ap.parse_args()

    warble = [sys.executable, "-m", "warble"]
    work = Path(a.work_dir or tempfile.mkdtemp(prefix="warble-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log = (lambda msg: None) if a.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        result: dict = {"posts": a.posts, "cores": len(os.sched_getaffinity(0))}
        small = max(1000, a.posts // 10)
        for n, name in ((a.posts, "raw"), (small, "raw_small")):
            log(f"synth {n:,} posts")
            t0 = time.perf_counter()
            subprocess.run(warble + ["synth", "--posts", str(n), "--out", str(work / name), "--workers", "2",
                                     "--no-progress"], check=True, stdout=subprocess.DEVNULL)
            result[f"synth_s_{name}"] = round(time.perf_counter() - t0, 1)
        workers = ["--workers", str(a.workers)] if a.workers else []
        runs = {"langid": [], "no_langid": ["--no-langid"]}
        for name, extra in runs.items():
            log(f"ingest ({name})")
            m, wall, peak = run_measured(warble + ["ingest", str(work / "raw"), "--out", str(work / name), "--json",
                                                   "--no-progress", "--overwrite", *workers, *extra])
            result[name] = {"wall_s": round(wall, 1), "posts_per_s": round(m["read"] / wall), "peak_rss_mb": round(peak),
                            "read": m["read"], "kept": m["kept"], "phase_s": m["seconds"],
                            "stage_posts_per_s_per_core": stage_rates(m)}
        log("ingest (langid, 1/10 of the input: does memory grow with input size?)")
        m, wall, peak_small = run_measured(warble + ["ingest", str(work / "raw_small"), "--out", str(work / "small"),
                                                     "--json", "--no-progress", "--overwrite", *workers])
        result["posts_per_s"] = result["langid"]["posts_per_s"]
        result["posts_per_s_no_langid"] = result["no_langid"]["posts_per_s"]
        result["peak_rss_mb"] = max(result["langid"]["peak_rss_mb"], result["no_langid"]["peak_rss_mb"])
        result["peak_rss_mb_at_tenth_size"] = round(peak_small)
        result["targets"] = {"posts_per_s": 3000, "posts_per_s_no_langid": 20000}
        print(json.dumps(result, indent=None if a.json else 2))
    finally:
        if not a.keep and not a.work_dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
