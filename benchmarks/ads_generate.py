"""Seconds per brief for `warble ads generate` with N=8 candidates on the CPU preset.

    python benchmarks/ads_generate.py --json                               # runs/quickstart/run, 6 briefs x 3
    python benchmarks/ads_generate.py --model runs/quickstart/run --n 8 --repeats 5 --json

Each brief runs the whole pipeline a user waits for (generate_ads: N x oversample decodes, every check with the
keyword brand-safety taxonomy and the run's n-gram index, ranking by the control-token contrast and MMR over
embeddings, drafts saved to a temporary store) on one loaded engine; model, index and checker loading are timed
apart (a server pays them once). Reported: median and p90 seconds per brief, the split by stage, how many of N
slots were filled, and the share of drawn candidates rejected by each check.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BRIEFS = [
    {"product": "Trailrunner 2 shoes", "brand": "Acme", "facts": ["weighs 220 g", "ships free in the EU"],
     "call_to_action": "Order today", "url": "https://acme.example/tr2", "topic": "fitness",
     "must_include": ["Trailrunner"], "must_avoid": ["cheap"]},
    {"product": "Pixel Quest", "brand": "Nimbus Games", "facts": ["out on Friday", "co-op for 4 players"],
     "call_to_action": "Wishlist now", "topic": "gaming", "must_avoid": ["boring"]},
    {"product": "the Harbor Lights tour", "brand": "Neon Tide", "facts": ["12 cities", "tickets from $39"],
     "url": "https://neontide.example/tour", "topic": "music", "must_include": ["tour"]},
    {"product": "Green Bowl salads", "facts": ["no added sugar"], "call_to_action": "Try one today",
     "topic": "cooking", "max_chars": 140},
    {"product": "Orbit Cam", "brand": "Skyline", "facts": ["4K video", "30% off this week"], "topic": "tech",
     "must_avoid": ["cheap", "free"]},
    {"product": "Zapatillas Trailrunner 2", "brand": "Acme", "lang": "es", "topic": "fitness",
     "call_to_action": "Compra hoy"},
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "runs" / "quickstart" / "run"))
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--oversample", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3, help="passes over the briefs (seeds differ per pass)")
    ap.add_argument("--threads", type=int, default=1, help="engine threads (default 1, as `warble ads generate`)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    from tqdm import tqdm

    from warble.ads.brief import Brief
    from warble.ads.copy import generate_ads
    from warble.ads.copy_cli import load_tools
    from warble.ads.drafts import DraftStore
    from warble.serve.engine import Engine

    t = time.perf_counter()
    engine = Engine.load(a.model, device=a.device, threads=a.threads)
    load_engine = time.perf_counter() - t
    t = time.perf_counter()
    tools, skipped = load_tools(a.model, engine=engine)
    load_tools_s = time.perf_counter() - t
    briefs = [Brief.from_dict(b) for b in BRIEFS]
    seconds, stages, filled = [], collections.defaultdict(list), []
    drawn, failed = 0, collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        store = DraftStore.open(tmp)
        generate_ads(engine, briefs[0], a.n, oversample=a.oversample, seed=999, safety=tools["safety"],
                     guard=tools["guard"], skipped=skipped, store=store)  # warm-up: first-call allocations
        runs = [(r, b) for r in range(a.repeats) for b in briefs]
        for r, brief in tqdm(runs, desc="briefs", file=sys.stderr, disable=a.json):
            out = generate_ads(engine, brief, a.n, oversample=a.oversample, seed=1000 * r,
                               safety=tools["safety"], guard=tools["guard"], skipped=skipped, store=store)
            seconds.append(out["seconds"])
            for k, v in out["timings"].items():
                stages[k].append(v)
            filled.append(len(out["candidates"]))
            drawn += out["generation"]["kept"]  # distinct candidates checked
            for rej in out["rejected"]:
                failed.update(rej["failed"])
    engine.shutdown()
    seconds.sort()
    result = {
        "model": a.model, "threads": a.threads, "device": str(engine.device), "dtype": str(engine.dtype).replace("torch.", ""),
        "n": a.n, "oversample": a.oversample, "briefs": len(briefs), "runs": len(seconds),
        "seconds_per_brief_median": round(statistics.median(seconds), 3),
        "seconds_per_brief_p90": round(seconds[min(len(seconds) - 1, int(0.9 * len(seconds)))], 3),
        "seconds_per_brief_mean": round(statistics.mean(seconds), 3),
        "stage_seconds_median": {k: round(statistics.median(v), 3) for k, v in stages.items()},
        "slots_filled": round(sum(filled) / (a.n * len(filled)), 3),
        "rejected_share_by_check": {k: round(v / max(drawn, 1), 3) for k, v in failed.most_common()},
        "load_seconds": {"engine": round(load_engine, 2), "checks": round(load_tools_s, 2)},
        "skipped_checks": skipped,
    }
    if a.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:28s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
