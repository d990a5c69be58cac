"""`warble report RUN_DIR`: the one-page report card of a trained model (Markdown and HTML)."""

from __future__ import annotations

import argparse
import json

HELP = "write a trained model's report card (Markdown + HTML): data, compute, evaluations, gates, samples"
DESCRIPTION = (
    "Write RUN_DIR/report.md and report.html: the corpus (counts by stage, languages), the tokenizer (bytes per "
    "token), model and compute (parameters, tokens, FLOPs, wall time, tokens/s, MFU), the loss curve, the results "
    "that `warble eval lm | tweeteval | memorization` saved under RUN_DIR/eval/ with their baselines and plots, "
    "the safety gates (PASS/FAIL) and sampled posts. Evaluations not run yet are listed with their commands.\n\n"
    "  warble report run/\n"
    "  warble report run/ --corpus data/ --out site/ --samples 12")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN_DIR", help="a run directory written by `warble train` (or finetune/import)")
    p.add_argument("--out", metavar="DIR", help="where to write report.md/report.html (default: RUN_DIR)")
    p.add_argument("--corpus", metavar="DIR", help="the corpus the run was trained on, when the token shards "
                   "do not record it")
    p.add_argument("--samples", type=int, default=6, help="posts to sample with the model (default 6; 0: none)")
    p.add_argument("--no-html", action="store_true", help="Markdown only")
    p.add_argument("--json", action="store_true", help="print the facts behind the report as one JSON object")


def run(a) -> int:
    from warble.errors import InputError
    from warble.eval.report import write_report

    if a.samples < 0:
        raise InputError("--samples must be >= 0")
    facts = write_report(a.run, out=a.out, corpus=a.corpus, samples=a.samples, html_too=not a.no_html)
    if a.json:
        print(json.dumps(facts, default=str))
    else:
        for kind, path in facts["written"].items():
            print(f"{kind}: {path}")
    return 0
