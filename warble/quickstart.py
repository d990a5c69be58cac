"""`warble quickstart`: the whole pipeline, as far as it exists, on the embedded default corpus.

Each stage adds a step here and a section to the report, so the quickstart always shows what Warble can do end to
end on this machine, with the numbers it measured. It must stay under 10 minutes on 2 cores.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path

from warble import __version__
from warble.errors import InputError
from warble.data.audit import audit_against_truth, audit_markdown
from warble.data.summary import manifest_markdown


def _log(msg: str) -> None:
    print(f"[quickstart] {msg}", file=sys.stderr, flush=True)


def run_quickstart(out_dir: str | Path, *, posts: int = 20_000, seed: int = 0, workers: int = 0,
                   progress: bool = True) -> Path:
    from warble.data.pipeline import IngestConfig, run_ingest
    from warble.data.synth import synthesize

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        # Its directory is its own scratch space, replaced on every run, but only if it is one of its own.
        if not (out / "quickstart.json").exists():
            raise InputError(f"{out} exists and is not a quickstart directory; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    _log(f"1/2 synth: simulating a platform with {posts:,} posts")
    t0 = time.perf_counter()
    synth = synthesize(out / "raw", posts, seed=seed, workers=max(1, workers or 2), progress=progress)
    timings["synth"] = time.perf_counter() - t0

    _log("2/2 ingest: raw dump -> clean corpus")
    t0 = time.perf_counter()
    cfg = IngestConfig(workers=workers)
    manifest = run_ingest([str(out / "raw")], out / "data", cfg, progress=progress, log=_log)
    timings["ingest"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started

    report = out / "report.md"
    audit = audit_against_truth(out / "raw", out / "data")
    report.write_text(_report(out, posts, seed, synth, manifest, audit, timings), encoding="utf-8")
    (out / "quickstart.json").write_text(json.dumps({"posts": posts, "seed": seed, "seconds": timings,
                                                     "synth": synth, "corpus": {k: manifest[k] for k in (
                                                         "read", "kept", "quarantined", "filtered")},
                                                     "audit": audit},
                                                    indent=2, default=str))
    _log(f"done in {timings['total']:.0f} s")
    return report


def _counts_table(title: str, counts: dict) -> str:
    rows = sorted(counts.items(), key=lambda kv: -kv[1])
    return "\n".join([f"| {title} | posts |", "|---|---:|", *(f"| {k} | {v:,} |" for k, v in rows)])


def _report(out: Path, posts: int, seed: int, synth: dict, manifest: dict, audit: dict, timings: dict) -> str:
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    steps = " | ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    return f"""# Warble quickstart report

Warble {__version__}, {now}. Run directory: `{out}`. Wall time: {steps}.

## 1. Simulated platform (`warble synth`)

{synth['posts']:,} posts (seed {seed}) by {synth['users']:,} users ({synth['bots']:,} bots), written as Twitter API v2
responses to `raw/` at {synth['posts_per_second']:,.0f} posts/s, plus {synth['malformed_records']} malformed records
and the ground truth under `raw/_truth/`.

{_counts_table("kind", synth["kinds"])}

{_counts_table("language", synth["langs"])}

Planted personal data: {synth['posts_with_pii']:,} posts ({', '.join(f"{k} {v}" for k, v in sorted(synth['pii'].items()))}).

## 2. Corpus (`warble ingest`)

`data/`: Parquet corpus, quarantine and manifest.

{manifest_markdown(manifest)}

Per-stage CPU seconds (summed over workers): {', '.join(f"{k} {v:.2f}" for k, v in manifest['stage_seconds'].items())}.

### Checked against the simulator's ground truth

{audit_markdown(audit)}

Short generic replies and quotes ("facts", "say it louder") are exact duplicates of each other, so dedup removes
most copies of them: that is why fewer replies and quotes than originals are kept.
"""
