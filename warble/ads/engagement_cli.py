"""`warble ads train-engagement`: train the engagement models (baseline, Warble head, blend) on a corpus."""

from __future__ import annotations

import argparse
import json
import math
import sys

HELP = "train engagement prediction (like, repost, reply, quote) from a corpus's engagement counts"
DESCRIPTION = (
    "Learn the per-impression probability of each engagement from the counts, impressions (or follower counts) of "
    "a corpus written by `warble ingest`: a baseline (hashed TF-IDF word and character n-grams plus author, time "
    "and format features, logistic regression) and, with --model RUN_DIR, a head on the Warble model's frozen "
    "embeddings and the blend of both. Writes OUT/meta.json (label definition, features, counts, validation "
    "metrics), OUT/weights.safetensors and OUT/reliability.png. docs/ADS.md.\n\n"
    "  warble ads train-engagement corpus/ --out eng/\n"
    "  warble ads train-engagement corpus/ --model run/ --out eng/ --json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("corpus", metavar="CORPUS_DIR", help="a corpus directory written by `warble ingest`")
    p.add_argument("--out", required=True, metavar="ENG_DIR", help="the model directory to write")
    p.add_argument("--model", metavar="RUN_DIR", help="also train the head on this Warble run's embeddings, "
                   "and the blend (default: baseline only)")
    p.add_argument("--C", type=float, default=1.0, help="inverse L2 regularisation strength (default 1.0)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of conversations held out for validation, beside the corpus's validation split "
                        "(default 0.1)")
    p.add_argument("--max-posts", type=int, metavar="N", help="train on a random sample of N labelled posts")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    p.add_argument("--json", action="store_true", help="print one JSON object (meta.json)")
    p.add_argument("--no-progress", action="store_true")


def fmt_metric(v, digits: int = 3) -> str:
    """A metric in a fixed-width table column; n/a when not computed (None or NaN). Shared with `ads score`."""
    return "   n/a" if v is None or math.isnan(v) else f"{v:6.{digits}f}"


def run(a) -> int:
    from warble.ads.engagement import train_engagement
    from warble.errors import InputError

    if a.C <= 0:
        raise InputError(f"--C must be > 0, got {a.C}")
    if a.max_posts is not None and a.max_posts < 1:
        raise InputError(f"--max-posts must be >= 1, got {a.max_posts}")
    meta = train_engagement(a.corpus, a.out, run_dir=a.model, C=a.C, val_fraction=a.val_fraction,
                            max_posts=a.max_posts, overwrite=a.overwrite, progress=not (a.no_progress or a.json),
                            log=lambda s: print(s, file=sys.stderr))
    if a.json:
        print(json.dumps(meta))
        return 0
    print(f"engagement models in {a.out} ({meta['seconds']:.1f} s): {', '.join(meta['models'])}; "
          f"best on validation: {meta['best_model']}")
    if meta["run_dir"] is None:
        print("Warble head: not trained (baseline only; pass --model RUN_DIR to add the Warble head and the blend)")
    print(f"{'action':8s} {'model':9s} {'RCE':>6s} {'PR-AUC':>6s} {'ECE':>6s}  base rate")
    for action, per in meta["validation"].items():
        for model, r in per.items():
            print(f"{action:8s} {model:9s} {fmt_metric(r['rce'])} {fmt_metric(r['pr_auc'], 4)} {fmt_metric(r['ece'], 4)}  {fmt_metric(r['base_rate'], 4)}")
    return 0
