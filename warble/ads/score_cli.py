"""`warble ads score`: predict engagement for every post of a corpus and measure it against the real counts."""

from __future__ import annotations

import argparse
import json

from warble.ads.engagement_cli import fmt_metric

HELP = "score a corpus with an engagement model: RCE, PR-AUC and calibration per engagement and model"
DESCRIPTION = (
    "Predict the per-impression probability of each engagement for every post of a corpus written by `warble "
    "ingest`, label the posts with the model's label definition (meta.json) and report, per engagement, RCE, "
    "PR-AUC and expected calibration error of each model (baseline, warble, blend); the top-level numbers are "
    "the model that was best on validation (`model`). --out writes per-post predictions as Parquet; --truth "
    "adds correlations with a synthetic dump's true probabilities. docs/ADS.md.\n\n"
    "  warble ads score --model eng/ heldout_corpus/ --json\n"
    "  warble ads score --model eng/ corpus/ --split validation --out preds.parquet --plot rel.png\n"
    "  warble ads score --model eng/ synth_corpus/ --truth raw/ --json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("corpus", metavar="CORPUS_DIR", help="a corpus directory written by `warble ingest`")
    p.add_argument("--model", required=True, metavar="ENG_DIR", help="written by `warble ads train-engagement`")
    p.add_argument("--split", choices=["all", "train", "validation"], default="all",
                   help="the corpus split to score (default all)")
    p.add_argument("--models", metavar="LIST", help="comma-separated subset of baseline,warble,blend "
                   "(default: all the directory has)")
    p.add_argument("--out", metavar="FILE.parquet", help="write per-post predictions (id, split, MODEL_ACTION)")
    p.add_argument("--truth", metavar="DIR", help="a `warble synth` dump (or its _truth/): correlate predictions "
                   "with the true engagement probabilities")
    p.add_argument("--plot", metavar="FILE.png", help="write a reliability plot")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true")


def _rate(v) -> str:
    return "      n/a" if v is None else f"{v:9.5f}"


def run(a) -> int:
    from warble.ads.engagement import MODELS, score_corpus
    from warble.errors import InputError

    models = None
    if a.models:
        models = [m.strip() for m in a.models.split(",") if m.strip()]
        bad = [m for m in models if m not in MODELS]
        if bad or not models:
            raise InputError(f"--models: unknown model(s) {', '.join(bad) or '(none)'}; choose from "
                             f"{', '.join(MODELS)}")
    out = score_corpus(a.model, a.corpus, split=a.split, out_file=a.out, truth=a.truth, models=models,
                       plot=a.plot, progress=not (a.no_progress or a.json))
    if a.json:
        print(json.dumps(out))
        return 0
    print(f"scored {out['posts']} posts in {out['seconds']:.2f} s ({out['posts_per_s']} posts/s); "
          f"top-level model: {out['model']}")
    for note in out["notes"]:
        print(f"note: {note}")
    truth = a.truth is not None
    print(f"{'action':8s} {'model':9s} {'RCE':>6s} {'PR-AUC':>6s} {'ECE':>6s}  posts  base rate"
          + ("  r(truth)" if truth else ""))
    for action, e in out["engagements"].items():
        for model, r in e["by_model"].items():
            print(f"{action:8s} {model:9s} {fmt_metric(r.get('rce'))} {fmt_metric(r.get('pr_auc'), 4)} {fmt_metric(r.get('ece'), 4)}  "
                  f"{e['n']:5d}  {_rate(e['base_rate'])}" + (f"     {fmt_metric(r.get('truth_pearson'))}" if truth else ""))
        if truth and "rce" in e.get("truth", {}):
            t = e["truth"]
            print(f"{action:8s} {'(truth)':9s} {fmt_metric(t['rce'])} {fmt_metric(t['pr_auc'], 4)} {fmt_metric(t['ece'], 4)}  "
                  "the true probabilities: the ceiling")
    for key in ("predictions", "reliability_plot"):
        if key in out:
            print(f"{key}: {out[key]}")
    return 0
