"""`warble ads train-safety`: train the brand-safety classifiers into MODEL_DIR/safety/."""

from __future__ import annotations

import argparse
import json
import textwrap

from warble.errors import ConfigError

HELP = "train brand-safety classifiers (TF-IDF + logistic regression) on labelled posts"
DESCRIPTION = textwrap.fill(
    "Train one classifier per labelled task of --data (TweetEval layout: TASK/{train,val,test}_text.txt, "
    "TASK/{split}_labels.txt, TASK/mapping.txt; binary tasks) into OUT/safety/, where `warble ads safety --model "
    "OUT` finds them. Each task's classifier scores the taxonomy category of the same name (TweetEval's hate and "
    "offensive -> hate, offensive). Thresholds per risk level are chosen on a tuning split (medium: best F1, or "
    "--target-precision; high: precision 0.9; low: recall 0.9); precision/recall/F1 are reported on the test "
    "split (val when the data has no test split).", 100) + (
    "\n\n"
    "  warble ads train-safety --data ../shared/data/tweeteval --out eng/\n"
    "  warble ads train-safety --data ../shared/data/tweeteval --tasks hate --target-precision 0.8 --out eng/ --json\n"
    "  warble ads train-safety --data ../shared/data/tweeteval --out eng/ --model-run run/   # + embedding head")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="DIR", help="folder of task folders (or one task folder)")
    p.add_argument("--out", required=True, metavar="MODEL_DIR", help="ads model directory; writes MODEL_DIR/safety/")
    p.add_argument("--tasks", metavar="A,B", help="task folders to train (default: hate,offensive when present, "
                                                  "else every task folder)")
    p.add_argument("--target-precision", type=float, metavar="P",
                   help="medium-risk threshold: the lowest reaching this precision (default: best F1)")
    p.add_argument("--taxonomy", metavar="TOML", help="taxonomy for the with-keywords numbers (default: shipped)")
    p.add_argument("--model-run", metavar="RUN_DIR", help="also learn each task from this Warble model's frozen "
                   "embeddings (Engine.embed) and report it beside the TF-IDF classifier (comparison only)")
    p.add_argument("--embed-posts", type=int, default=2000, metavar="N",
                   help="--model-run: training posts to embed per task (default 2000; tune/test splits in full)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true")


def run(a) -> int:
    from pathlib import Path

    from warble.ads.safety_train import train_safety

    tasks = [t.strip() for t in a.tasks.split(",") if t.strip()] if a.tasks else None
    if a.tasks is not None and not tasks:
        raise ConfigError("--tasks is empty")
    if tasks is None and all((Path(a.data) / t / "train_text.txt").exists() for t in ("hate", "offensive")):
        tasks = ["hate", "offensive"]  # TweetEval: the two brand-safety tasks, not emoji or sentiment
    if a.embed_posts < 10:
        raise ConfigError("--embed-posts must be at least 10")
    report = train_safety(a.data, a.out, tasks=tasks, target_precision=a.target_precision, seed=a.seed,
                          taxonomy=a.taxonomy, model_run=a.model_run, embed_posts=a.embed_posts,
                          progress=not a.no_progress and not a.json)
    if a.json:
        print(json.dumps(report))
        return 0
    print(f"trained {len(report['classifiers'])} classifier(s) into {report['out']} in {report['seconds']:.1f} s")
    for name, r in report["classifiers"].items():
        t = r["test"]
        print(f"\n{name}: {r['splits']}; C={r['C']}; test posts {t['n']} ({t['positives']} positive), "
              f"PR-AUC {t['pr_auc']:.3f}")
        print("  level     threshold  precision  recall   f1")
        for lv, m in t["levels"].items():
            print(f"  {lv:8s} {m['threshold']:10.3f} {m['precision']:10.3f} {m['recall']:7.3f} {m['f1']:6.3f}")
        for key in ("with_keywords", "keywords_only"):
            m = t[key]
            print(f"  {key.replace('_', ' '):17s}    {m['precision']:10.3f} {m['recall']:7.3f} {m['f1']:6.3f}")
        if "embedding_head" in r:
            e = r["embedding_head"]
            print(f"  embedding head ({e['train_posts']} training posts, PR-AUC {e['test']['pr_auc']:.3f})"
                  f" {e['test']['precision']:7.3f} {e['test']['recall']:7.3f} {e['test']['f1']:6.3f}")
    return 0
