"""Brand-safety benchmark: classifier quality on TweetEval, keyword quality on the hand-labelled set, and speed.

    python benchmarks/ads_safety.py --json
    python benchmarks/ads_safety.py --data ../shared/data/tweeteval --target-precision 0.8

Trains the hate and offensive classifiers on --data (as `warble ads train-safety` does) into a scratch folder and
reports, per category, precision/recall/F1 at each risk level on the test split (val for the shared copy, which has
no test split), PR-AUC, and the same category as the whole checker flags it (keywords + classifier) and with the
keyword lists alone. Then the keyword-only categories on tests/data/ads_safety_handlabelled.jsonl (about 100 posts
written and labelled by hand: a regression check, not a real-world recall figure). Speed: posts/s of
`SafetyChecker.check` with keywords only and with both classifiers, over the test posts repeated to --posts.
One JSON object on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "tweeteval"))
    ap.add_argument("--posts", type=int, default=20_000, help="posts for the speed measurement")
    ap.add_argument("--target-precision", type=float)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    from warble.ads.safety import SafetyChecker, category_metrics, read_posts
    from warble.ads.safety_train import read_split, train_safety

    out: dict = {}
    with tempfile.TemporaryDirectory() as work:
        t0, c0 = time.perf_counter(), time.process_time()
        report = train_safety(a.data, work, tasks=["hate", "offensive"], target_precision=a.target_precision,
                              progress=False)
        out["train_seconds"] = round(time.perf_counter() - t0, 1)
        out["train_cpu_seconds"] = round(time.process_time() - c0, 1)
        log(f"trained in {out['train_seconds']} s ({out['train_cpu_seconds']} s CPU)")
        out["classifiers"] = {name: {"splits": r["splits"], "C": r["C"], "thresholds": r["thresholds"], **r["test"]}
                              for name, r in report["classifiers"].items()}

        posts = read_posts(str(ROOT / "tests" / "data" / "ads_safety_handlabelled.jsonl"))
        keywords_only = SafetyChecker.load(None)
        cats = [c for c in keywords_only.category_names if c not in ("hate", "offensive")]
        out["handlabelled_keywords"] = {
            "posts": len(posts), "note": "hand-written and hand-labelled by the checker's author; small",
            "categories": category_metrics(keywords_only.check([p["text"] for p in posts]),
                                           [p["categories"] for p in posts], cats)}

        texts = read_split(Path(a.data) / "offensive", "val")[0]
        texts = (texts * (a.posts // len(texts) + 1))[:a.posts]
        full = SafetyChecker.load(work)
        for name, checker in (("keywords_only", keywords_only), ("keywords_and_classifiers", full)):
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(0, len(texts), 1000):
                checker.check(texts[i:i + 1000])
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            out[f"check_posts_per_s_{name}"] = round(len(texts) / dt)
            out[f"check_posts_per_cpu_s_{name}"] = round(len(texts) / cpu)  # the machine is shared: CPU time too
            log(f"{name}: {len(texts) / dt:,.0f} posts/s ({len(texts) / cpu:,.0f} per CPU second)")

    if a.json:
        print(json.dumps(out))
        return
    for name, m in out["classifiers"].items():
        print(f"{name}: P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f} PR-AUC {m['pr_auc']:.3f} "
              f"(with keywords F1 {m['with_keywords']['f1']:.3f}; keywords only P {m['keywords_only']['precision']:.3f}"
              f" R {m['keywords_only']['recall']:.3f})")
    for c, m in out["handlabelled_keywords"]["categories"].items():
        print(f"{c:16s} P {m['precision']:.3f} R {m['recall']:.3f} (support {m['support']})")
    print(json.dumps({k: v for k, v in out.items() if k.startswith(("check_", "train_"))}))


if __name__ == "__main__":
    main()
